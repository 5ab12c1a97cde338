//! Fault injection: the next N matching calls answer a chosen status and body, are delayed, or
//! have their connection dropped before any answer. Every answer carries `Connection: close`
//! so each call arrives on a fresh connection that can be dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tokio::net::{TcpListener, TcpStream};

use super::SimState;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    /// How many matching calls it applies to.
    pub count: usize,
    /// Only calls whose path starts with this (default: all protocol calls).
    pub path: Option<String>,
    /// Answer this status...
    pub status: Option<u16>,
    /// ...with this body (default `{"error":"injected"}`).
    pub body: Option<String>,
    /// Wait this long before handling.
    pub delay_ms: Option<u64>,
    /// Close the connection without answering (applies to the next N connections).
    pub drop: Option<bool>,
}

fn take(state: &Mutex<SimState>, path: &str, want_drop: bool) -> Option<Fault> {
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    let i = st.faults.iter().position(|f| {
        f.count > 0
            && f.drop.unwrap_or(false) == want_drop
            && f.path.as_deref().is_none_or(|p| path.starts_with(p))
    })?;
    st.faults[i].count -= 1;
    let fault = st.faults[i].clone();
    st.faults.retain(|f| f.count > 0);
    Some(fault)
}

pub async fn apply(
    State(state): State<Arc<Mutex<SimState>>>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path().to_string();
    let mut response = if path.starts_with("/_sim") {
        next.run(req).await
    } else {
        state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .calls
            .push(format!("{} {path}", req.method()));
        match take(&state, &path, false) {
            Some(fault) => {
                if let Some(ms) = fault.delay_ms {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                }
                match fault.status {
                    Some(code) => {
                        let status =
                            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                        let body = fault
                            .body
                            .unwrap_or_else(|| r#"{"error":"injected"}"#.to_string());
                        (
                            status,
                            [(header::CONTENT_TYPE, "application/json")],
                            Body::from(body),
                        )
                            .into_response()
                    }
                    None => next.run(req).await,
                }
            }
            None => next.run(req).await,
        }
    };
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Accepts connections, closing at once those a `drop` fault claims.
pub struct DroppingListener {
    inner: TcpListener,
    state: Arc<Mutex<SimState>>,
}

impl DroppingListener {
    pub fn new(inner: TcpListener, state: Arc<Mutex<SimState>>) -> Self {
        DroppingListener { inner, state }
    }
}

impl axum::serve::Listener for DroppingListener {
    type Io = TcpStream;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (stream, addr) = match self.inner.accept().await {
                Ok(pair) => pair,
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            };
            if take(&self.state, "/", true).is_some() {
                drop(stream);
                continue;
            }
            return (stream, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}
