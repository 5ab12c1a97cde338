//! Partner sync, admin side: the push outbox (pending and dead rows, manual retry) and backfill.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db::backfill::BackfillRun;
use crate::db::outbox::OutboxRow;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, ApiQuery};
use crate::network::{backfill, sync};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_outbox))
        .routes(routes!(retry_outbox))
        .routes(routes!(start_backfill, get_backfill))
}

fn row_json(r: &OutboxRow) -> Value {
    json!({
        "id": r.id,
        "partnerId": r.partner_id,
        "status": r.status,
        "attempts": r.attempts,
        "nextAttemptAt": (r.status == "pending").then_some(r.next_attempt_at),
        "lastError": r.last_error,
        "createdAt": r.created_at,
        "updatedAt": r.updated_at,
        "payload": serde_json::from_str::<Value>(&r.payload).unwrap_or(Value::Null),
    })
}

pub fn run_json(r: Option<&BackfillRun>) -> Value {
    match r {
        None => json!({ "runId": null, "status": "none" }),
        Some(r) => json!({
            "runId": r.id,
            "status": r.status,
            "total": r.total,
            "pushed": r.pushed,
            "preExisting": r.pre_existing,
            "queued": r.queued,
            "failed": r.failed,
            "startedAt": r.started_at,
            "finishedAt": r.finished_at,
        }),
    }
}

/// The outbox and backfill figures the Network panel shows.
pub async fn panel_figures(state: &AppState) -> ApiResult<Value> {
    let (pending, dead) = state.db.push_counts().await?;
    let run = state.db.latest_backfill().await?;
    Ok(json!({
        "outbox": { "pending": pending, "dead": dead },
        "backfill": run_json(run.as_ref()),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// `pending` (default) or `dead`.
    status: Option<String>,
}

/// Partner pushes waiting for retry, or dead after the last backoff.
#[utoipa::path(get, path = "/admin/network/outbox", tag = "network", security(("bearer" = [])),
    params(OutboxQuery),
    responses((status = 200, description = "`{rows: [{id, partnerId, status, attempts, nextAttemptAt, lastError, createdAt, updatedAt, payload}]}`", body = Object),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn list_outbox(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let status = q.status.unwrap_or_else(|| "pending".into());
    if !matches!(status.as_str(), "pending" | "dead") {
        return Err(ApiError::invalid_query("status must be pending or dead"));
    }
    let rows = state.db.list_pushes(&status, 500).await?;
    Ok(Json(
        json!({ "rows": rows.iter().map(row_json).collect::<Vec<_>>() }),
    ))
}

/// Retry a dead push now.
#[utoipa::path(post, path = "/admin/network/outbox/{id}/retry", tag = "network", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The row after the attempt", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_dead`, `newer_push_pending`", body = ErrorBody)))]
async fn retry_outbox(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let row = state
        .db
        .get_push(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such push."))?;
    match state.db.revive_push(&id, state.clock.now()).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(ApiError::conflict(
                "not_dead",
                "Only a dead push can be retried.",
            ));
        }
        Err(e) if crate::db::is_unique_violation(&e) => {
            return Err(ApiError::conflict(
                "newer_push_pending",
                "A newer push for this partner is already queued; it carries the latest state.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    sync::push_now(&state, &row.partner_id).await;
    let row = state
        .db
        .get_push(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such push."))?;
    Ok(Json(row_json(&row)))
}

/// Backfill now: push every partner not yet on the Network (joins a run in progress).
#[utoipa::path(post, path = "/config/network/backfill", tag = "network", security(("bearer" = [])),
    responses((status = 202, description = "`{runId, total}`", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 503, description = "`network_not_configured`", body = ErrorBody)))]
async fn start_backfill(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_admin()?;
    let run = backfill::start(&state).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "runId": run.id, "total": run.total })),
    ))
}

/// The latest backfill run's progress.
#[utoipa::path(get, path = "/config/network/backfill", tag = "network", security(("bearer" = [])),
    responses((status = 200, description = "`{runId, status: running|done|none, total, pushed, preExisting, queued, failed, startedAt, finishedAt}`", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn get_backfill(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    Ok(Json(run_json(state.db.latest_backfill().await?.as_ref())))
}
