//! Recording and fault injection for `/v1` calls: every call is recorded (minus the secret key);
//! the next N matching calls may answer a chosen status and body, be delayed, have their
//! connection dropped before the call runs (`drop`), or run and then have their connection
//! dropped without an answer (`dropAfterProcessing`: the transfer exists, the client sees a
//! transport error). Every answer carries `Connection: close`, so each call arrives on a fresh
//! connection.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::{ConnKill, RecordedRequest, Shared, lock};

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    /// How many matching calls it applies to.
    pub count: usize,
    /// Only calls whose path starts with this (default: every `/v1` call).
    #[serde(default)]
    pub path: Option<String>,
    /// Answer this status without running the call...
    #[serde(default)]
    pub status: Option<u16>,
    /// ...with this body (default: a Stripe `api_error`).
    #[serde(default)]
    pub body: Option<String>,
    /// Wait this long first.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Close the connection without answering, before the call runs.
    #[serde(default)]
    pub drop: bool,
    /// Run the call (create the transfer…), then close the connection without answering.
    #[serde(default)]
    pub drop_after_processing: bool,
}

fn take(state: &Shared, path: &str) -> Option<Fault> {
    let mut st = lock(state);
    let i = st
        .faults
        .iter()
        .position(|f| f.count > 0 && f.path.as_deref().is_none_or(|p| path.starts_with(p)))?;
    st.faults[i].count -= 1;
    let fault = st.faults[i].clone();
    st.faults.retain(|f| f.count > 0);
    Some(fault)
}

/// Body limit of a recorded call (Stripe's own is far below this).
const BODY_LIMIT: usize = 1024 * 1024;

pub async fn apply(State(state): State<Shared>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/v1/") {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, BODY_LIMIT).await {
        Ok(b) => b,
        Err(_) => return super::wire::invalid("The request body is too large.", None),
    };
    record(&state, &parts, &bytes);
    let path = parts.uri.path().to_string();
    let kill = parts.extensions.get::<ConnKill>().cloned();
    let req = Request::from_parts(parts, Body::from(bytes));
    let mut response = match take(&state, &path) {
        None => next.run(req).await,
        Some(fault) => {
            if let Some(ms) = fault.delay_ms {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            if fault.drop {
                return hang_up(kill).await;
            }
            if let Some(code) = fault.status {
                let status =
                    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = fault.body.unwrap_or_else(|| {
                    r#"{"error":{"type":"api_error","message":"Injected fault."}}"#.to_string()
                });
                (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
            } else if fault.drop_after_processing {
                let _ = next.run(req).await;
                return hang_up(kill).await;
            } else {
                next.run(req).await
            }
        }
    };
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Ends the connection without an answer; the future never completes (the connection task
/// drops it).
async fn hang_up(kill: Option<ConnKill>) -> Response {
    match kill {
        Some(kill) => {
            kill.kill();
            std::future::pending().await
        }
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn record(state: &Shared, parts: &axum::http::request::Parts, body: &Bytes) {
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .filter(|(name, _)| *name != header::AUTHORIZATION)
        .map(|(name, v)| {
            (
                name.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let form = if super::wire::is_form(&parts.headers) {
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(body).unwrap_or_default()
    } else {
        Vec::new()
    };
    let mut st = lock(state);
    let authenticated = super::wire::presented_key(&parts.headers)
        .is_some_and(|k| st.secret_keys.iter().any(|s| s == &k));
    st.requests.push(RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        form,
        body: String::from_utf8_lossy(body).into_owned(),
        idempotency_key: headers.get("idempotency-key").cloned(),
        headers,
        authenticated,
    });
}
