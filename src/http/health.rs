//! Liveness and readiness.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthBody {
    /// Always `ok`.
    status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, body = HealthBody)))]
async fn health() -> Json<HealthBody> {
    Json(HealthBody { status: "ok" })
}

/// The process is up and its database answers.
#[utoipa::path(get, path = "/ready", tag = "system", responses(
    (status = 200, body = HealthBody),
    (status = 503, description = "`database_unavailable`", body = crate::error::ErrorBody)))]
async fn ready(State(state): State<AppState>) -> ApiResult<(StatusCode, Json<HealthBody>)> {
    if state.db.ping().await {
        Ok((StatusCode::OK, Json(HealthBody { status: "ok" })))
    } else {
        Err(ApiError::unavailable(
            "database_unavailable",
            "The database does not answer.",
        ))
    }
}
