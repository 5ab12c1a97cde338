//! `GET /metrics`: the Prometheus text page. On the main listener it answers only to the
//! `OPENPARTNER_METRICS_TOKEN` bearer; `OPENPARTNER_METRICS_BIND` serves it on a separate
//! listener without auth; with neither, metrics are off and the route answers 404.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::error::{ApiError, ApiResult};
use crate::instruments;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(metrics_page))
}

/// The router of the separate, unauthenticated metrics listener.
pub fn bind_router(state: AppState) -> Router {
    Router::new()
        .route(
            "/metrics",
            axum::routing::get(|State(state): State<AppState>| async move { render(&state).await }),
        )
        .with_state(state)
}

/// Prometheus metrics in the text exposition format (version 0.0.4).
#[utoipa::path(get, path = "/metrics", tag = "system",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The Prometheus text page.", content_type = "text/plain", body = String),
        (status = 401, description = "`unauthorized`: the metrics token is missing or wrong", body = crate::error::ErrorBody),
        (status = 404, description = "`not_found`: metrics are off on this listener", body = crate::error::ErrorBody)))]
async fn metrics_page(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    let Some(token) = state.config.metrics_token.as_ref() else {
        return Err(ApiError::not_found("No such route."));
    };
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .unwrap_or_default();
    // Both sides hashed first, so the compare takes the same time whatever the lengths.
    let ok = crate::domain::tokens::ct_eq(
        &crate::domain::tokens::hash_token(sent),
        &crate::domain::tokens::hash_token(token.expose()),
    );
    if !ok {
        return Err(ApiError::unauthorized(
            "Send the metrics token as Authorization: Bearer <token>.",
        ));
    }
    Ok(render(&state).await)
}

async fn render(state: &AppState) -> Response {
    let Some(handle) = instruments::handle() else {
        return ApiError::not_found("Metrics are off.").into_response();
    };
    let pool = state.db.pool();
    metrics::gauge!(instruments::DB_POOL_SIZE).set(f64::from(pool.size()));
    metrics::gauge!(instruments::DB_POOL_IDLE).set(pool.num_idle() as f64);
    // Queue depths are read at scrape time: the database is the truth across replicas.
    match db::gauges::queue_depths(state.db.pool()).await {
        Ok(d) => {
            metrics::gauge!(instruments::NETWORK_OUTBOX_PENDING).set(d.outbox_pending as f64);
            metrics::gauge!(instruments::NETWORK_OUTBOX_DEAD).set(d.outbox_dead as f64);
            metrics::gauge!(instruments::MAIL_PENDING).set(d.mail_pending as f64);
            metrics::gauge!(instruments::MAIL_DEAD).set(d.mail_dead as f64);
            metrics::gauge!(instruments::WEBHOOK_PENDING).set(d.webhooks_pending as f64);
        }
        Err(e) => tracing::warn!(error = %e, "queue depths unavailable for /metrics"),
    }
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}
