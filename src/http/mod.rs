//! The HTTP surface: one `router()` per resource merged here, plus the layers every request
//! passes through (request id, one log line per request, body limit, panic guard) and the JSON
//! answers for unknown routes and wrong methods.

pub mod api_keys;
pub mod audit_log;
pub mod auth;
pub mod brand;
pub mod clicks;
pub mod commissions;
pub mod console;
pub mod csv_io;
pub mod events;
pub mod health;
pub mod introspect;
pub mod json;
pub mod mail;
pub mod me;
pub mod metrics_page;
pub mod network;
pub mod openapi;
pub mod overview;
pub mod paging;
pub mod partners;
pub mod payouts;
pub mod portal;
pub mod programs;
pub mod rate_limit;
pub mod redirect;
pub mod rules;
pub mod sales;
pub mod sessions;
pub mod signup;
pub mod stripe_connect;
pub mod stripe_webhooks;
pub mod timeseries;
pub mod uploads;
pub mod webhook_deliveries;
pub mod webhooks;

use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath};
use axum::http::{HeaderName, Request, Response, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;

use crate::error::ApiError;
use crate::state::AppState;

/// Bodies above this are answered 413 (the logo upload sets its own limit).
pub const BODY_LIMIT: usize = 1024 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every documented route, with the OpenAPI document collected from the handlers.
pub fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::base())
        .merge(health::router())
        .merge(api_keys::router())
        .merge(introspect::router())
        .merge(programs::router())
        .merge(partners::router())
        .merge(partners::lifecycle::router())
        .merge(partners::snapshot::router())
        .merge(partners::keys::router())
        .merge(sessions::router())
        .merge(signup::router())
        .merge(partners::links::router())
        .merge(redirect::router())
        .merge(clicks::router())
        .merge(events::router())
        .merge(commissions::router())
        .merge(payouts::router())
        .merge(network::router())
        .merge(console::router())
        .merge(uploads::router())
        .merge(stripe_connect::router())
        .merge(stripe_webhooks::router())
        .merge(webhooks::router())
        .merge(webhook_deliveries::router())
        .merge(mail::router())
        .merge(brand::router())
        .merge(me::router())
        .merge(timeseries::router())
        .merge(portal::router())
        .merge(overview::router())
        .merge(metrics_page::router())
        .merge(audit_log::router())
        .merge(csv_io::router())
}

/// The complete application: routes, fallbacks and layers.
pub fn app(state: AppState) -> Router {
    let (router, spec) = api_router().split_for_parts();
    let spec = std::sync::Arc::new(spec.to_json().expect("the OpenAPI document serializes"));
    router
        .merge(programs::aliases())
        .route(
            "/openapi.json",
            axum::routing::get(move || {
                let spec = spec.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        spec.as_str().to_owned(),
                    )
                }
            }),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyTimeoutLayer::new(state.config.body_read_timeout))
        .layer(CatchPanicLayer::custom(on_panic))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit_scope,
        ))
        .layer(axum::middleware::from_fn(access_log))
        .layer(axum::middleware::from_fn(run_to_completion))
        .layer(axum::middleware::map_response(no_framing))
        // Outside the task: a timeout stops the wait, never the handler.
        .layer(axum::middleware::from_fn_with_state(
            state.config.request_timeout,
            request_timeout,
        ))
        .with_state(state)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, UlidRequestId))
        .layer(axum::middleware::map_request(clip_request_id))
}

/// The longest client-sent request id kept.
const MAX_REQUEST_ID: usize = 100;

/// A client's own `x-request-id` is kept (so its logs and ours meet), cut to
/// [`MAX_REQUEST_ID`] bytes once, here, before it is echoed, logged or audited.
async fn clip_request_id(mut req: Request<Body>) -> Request<Body> {
    if let Some(id) = req.headers().get(&REQUEST_ID)
        && id.len() > MAX_REQUEST_ID
    {
        match axum::http::HeaderValue::from_bytes(&id.as_bytes()[..MAX_REQUEST_ID]) {
            Ok(clipped) => req.headers_mut().insert(&REQUEST_ID, clipped),
            Err(_) => req.headers_mut().remove(&REQUEST_ID),
        };
    }
    req
}

async fn not_found() -> ApiError {
    ApiError::not_found("No such route.")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "This route does not accept that method.",
    )
}

fn on_panic(panic: Box<dyn std::any::Any + Send + 'static>) -> Response<Body> {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    ApiError::internal(format_args!("handler panicked: {message}")).into_response()
}

/// Request ids are ULIDs unless the client sent one.
#[derive(Clone, Copy)]
struct UlidRequestId;

impl MakeRequestId for UlidRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        ulid::Ulid::new()
            .to_string()
            .parse()
            .ok()
            .map(RequestId::new)
    }
}

/// No page of ours may be framed (clickjacking): every HTML answer without a policy of its own
/// gets `frame-ancestors 'none'`, plus `X-Frame-Options` for older browsers.
async fn no_framing(mut response: Response<Body>) -> Response<Body> {
    use axum::http::HeaderValue;
    use axum::http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
    let is_html = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        let h = response.headers_mut();
        let policy = match h.get(CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()) {
            None => Some("frame-ancestors 'none'".to_string()),
            Some(p) if !p.contains("frame-ancestors") => {
                Some(format!("{p}; frame-ancestors 'none'"))
            }
            Some(_) => None,
        };
        if let Some(v) = policy.and_then(|p| HeaderValue::from_str(&p).ok()) {
            h.insert(CONTENT_SECURITY_POLICY, v);
        }
        h.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    response
}

/// Answers 503 `request_timeout` when a request takes longer than the configured limit. The
/// handler itself still runs to completion (see `run_to_completion`), so no work is cut off
/// halfway.
async fn request_timeout(
    axum::extract::State(limit): axum::extract::State<std::time::Duration>,
    req: Request<Body>,
    next: Next,
) -> Response<Body> {
    let method = req.method().clone();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(%method, ?limit, "request timed out; answered 503");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "request_timeout",
                format!("The request took longer than {}s.", limit.as_secs()),
            )
            .into_response()
        }
    }
}

/// Runs each request that may change something (any method but GET, HEAD and OPTIONS) in a
/// task of its own, so a client that disconnects, or the request timeout, cannot cut a write
/// off halfway: between a Network or Stripe call and the row that records it, say. Reads run
/// inline (a task per request was ~10 % of a small read's instructions): cancelling one is
/// harmless, since `Db::begin` itself is cancel-safe and a read's incidental writes (a
/// session's refresh, a Stripe status re-read) are single transactions.
async fn run_to_completion(req: Request<Body>, next: Next) -> Response<Body> {
    if req.method().is_safe() {
        return next.run(req).await;
    }
    match tokio::spawn(next.run(req)).await {
        Ok(response) => response,
        Err(e) => {
            // Outside the access log's layer: logged here.
            tracing::error!(error = %e, "request task failed");
            ApiError::internal(format_args!("request task failed: {e}")).into_response()
        }
    }
}

/// Opens the audit context of a request: its request id and, for a method that may change
/// something, the hashed client IP; the `Auth` extractor names the actor in it. Inside
/// `run_to_completion`'s task, so the handler sees it.
async fn audit_scope(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request<Body>,
    next: Next,
) -> Response<Body> {
    use crate::db::audit::{AuditScope, scoped};
    use axum::extract::FromRequestParts;
    if req.method().is_safe() {
        // Reads rarely write; when one does, it is still not taken for the CLI.
        return scoped(AuditScope::request(None, None), next.run(req)).await;
    }
    let (mut parts, body) = req.into_parts();
    let request_id = parts
        .headers
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ip_hash = rate_limit::ClientIp::from_request_parts(&mut parts, &state)
        .await
        .ok()
        .map(|ip| redirect::ip_hash(&state.ip_salt[..], ip.0));
    let req = Request::from_parts(parts, body);
    scoped(AuditScope::request(request_id, ip_hash), next.run(req)).await
}

/// One request in flight, for the in-flight gauge, until dropped.
struct InFlight(metrics::Gauge);

impl InFlight {
    fn enter() -> Self {
        let g = metrics::gauge!(crate::instruments::HTTP_IN_FLIGHT);
        g.increment(1.0);
        InFlight(g)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// One log line per request: method, route template (never the raw path or query, which can
/// carry tokens), status, latency and request id. Handler logs run inside a debug-level span
/// with the same fields, so it costs nothing unless debug logging is on.
async fn access_log(req: Request<Body>, next: Next) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    // Reference-counted copies, not new strings: `MatchedPath` holds an `Arc<str>`, a header
    // value shared bytes.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let route = matched.as_ref().map_or("unmatched", |m| m.as_str());
    let request_id_header = req.headers().get(&REQUEST_ID).cloned();
    // The client may send its own, cut to length at the edge (`clip_request_id`).
    let request_id = request_id_header
        .as_ref()
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let span = tracing::debug_span!("request", %method, route = %route, request_id = %request_id);
    // With metrics off (the default) no recorder exists: skip building labels for nothing.
    let metered = crate::instruments::handle().is_some();
    // Decremented on drop: a read cancelled by its client leaves no request counted in flight.
    let in_flight = metered.then(InFlight::enter);
    let response = next.run(req).instrument(span).await;
    drop(in_flight);
    let status = response.status().as_u16();
    let elapsed = start.elapsed().as_secs_f64();
    let latency_ms = elapsed * 1000.0;
    if metered {
        // Labels: the route template (bounded), never the raw path.
        metrics::counter!(
            crate::instruments::HTTP_REQUESTS,
            "route" => route.to_owned(),
            "method" => crate::instruments::method_label(&method),
            "status" => crate::instruments::status_class(status),
        )
        .increment(1);
        metrics::histogram!(
            crate::instruments::HTTP_DURATION,
            "route" => route.to_owned(),
            "method" => crate::instruments::method_label(&method),
        )
        .record(elapsed);
    }
    if status >= 500 {
        // An internal error's cause is logged here, once, with the request it broke.
        let cause = response
            .extensions()
            .get::<crate::error::InternalCause>()
            .map(|c| c.0.clone());
        let error = cause.as_deref().unwrap_or("");
        tracing::error!(%method, %route, status, latency_ms, %request_id, error, "request");
    } else {
        tracing::info!(%method, %route, status, latency_ms, %request_id, "request");
    }
    response
}
