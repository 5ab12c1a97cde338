//! Partner sync, admin side: the push outbox (pending and dead rows, manual retry) and backfill.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::backfill::BackfillRun;
use crate::db::outbox::OutboxRow;
use crate::domain::ids::PartnerId;
use crate::domain::network::OutboxStatus;
use crate::domain::time::Timestamp;
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

/// One partner push in the outbox.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutboxRowView {
    id: String,
    partner_id: PartnerId,
    /// `pending`, `dead` or `done`.
    status: String,
    attempts: i64,
    /// When the next attempt is due; `null` unless pending.
    #[schema(required = true)]
    next_attempt_at: Option<Timestamp>,
    #[schema(required = true)]
    last_error: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// The partner as it will be pushed to the Network.
    #[schema(value_type = Option<Object>, required = true)]
    payload: Value,
}

impl From<&OutboxRow> for OutboxRowView {
    fn from(r: &OutboxRow) -> Self {
        OutboxRowView {
            id: r.id.clone(),
            partner_id: r.partner_id.clone(),
            status: r.status.as_str().to_string(),
            attempts: r.attempts,
            next_attempt_at: (r.status == OutboxStatus::Pending).then_some(r.next_attempt_at),
            last_error: r.last_error.clone(),
            created_at: r.created_at,
            updated_at: r.updated_at,
            payload: serde_json::from_str(&r.payload).unwrap_or(Value::Null),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OutboxList {
    rows: Vec<OutboxRowView>,
}

/// The latest backfill run: `{runId: null, status: "none"}` when there was none yet.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackfillView {
    #[schema(required = true)]
    run_id: Option<String>,
    /// `running`, `done`, or `none`.
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pushed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pre_existing: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queued: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failed: Option<i64>,
    /// Absent when there was no run.
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<Timestamp>,
    /// Absent when there was no run, `null` while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Timestamp>)]
    finished_at: Option<Option<Timestamp>>,
}

impl From<Option<&BackfillRun>> for BackfillView {
    fn from(r: Option<&BackfillRun>) -> Self {
        match r {
            None => BackfillView {
                run_id: None,
                status: "none".into(),
                total: None,
                pushed: None,
                pre_existing: None,
                queued: None,
                failed: None,
                started_at: None,
                finished_at: None,
            },
            Some(r) => BackfillView {
                run_id: Some(r.id.clone()),
                status: r.status.clone(),
                total: Some(r.total),
                pushed: Some(r.pushed),
                pre_existing: Some(r.pre_existing),
                queued: Some(r.queued),
                failed: Some(r.failed),
                started_at: Some(r.started_at),
                finished_at: Some(r.finished_at),
            },
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackfillStarted {
    run_id: String,
    total: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct OutboxCounts {
    pending: i64,
    dead: i64,
}

/// The outbox and backfill figures the Network panel shows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PanelFigures {
    outbox: OutboxCounts,
    backfill: BackfillView,
}

impl PanelFigures {
    pub async fn load(state: &AppState) -> ApiResult<Self> {
        let (pending, dead) = db::outbox::counts(state.db.pool()).await?;
        let run = db::backfill::latest(state.db.pool()).await?;
        Ok(PanelFigures {
            outbox: OutboxCounts { pending, dead },
            backfill: run.as_ref().into(),
        })
    }
}

/// [`PanelFigures`] as a JSON object, for the panel that merges them into its answer.
pub async fn panel_figures(state: &AppState) -> ApiResult<Value> {
    serde_json::to_value(PanelFigures::load(state).await?).map_err(ApiError::internal)
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
    responses((status = 200, body = OutboxList),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn list_outbox(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<OutboxQuery>,
) -> ApiResult<Json<OutboxList>> {
    auth.require_admin()?;
    let status = match q.status.as_deref().map(OutboxStatus::parse) {
        None => OutboxStatus::Pending,
        Some(Some(s @ (OutboxStatus::Pending | OutboxStatus::Dead))) => s,
        Some(_) => return Err(ApiError::invalid_query("status must be pending or dead")),
    };
    let rows = db::outbox::list(state.db.pool(), status, 500).await?;
    Ok(Json(OutboxList {
        rows: rows.iter().map(OutboxRowView::from).collect(),
    }))
}

/// Retry a dead push now.
#[utoipa::path(post, path = "/admin/network/outbox/{id}/retry", tag = "network", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The row after the attempt", body = OutboxRowView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_dead`, `newer_push_pending`", body = ErrorBody)))]
async fn retry_outbox(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OutboxRowView>> {
    auth.require_admin()?;
    let row = db::outbox::get(state.db.pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such push."))?;
    match db::outbox::revive(&state.db, &id, state.clock.now()).await {
        Ok(true) => {}
        Ok(false) => {
            return Err(ApiError::conflict(
                "not_dead",
                "Only a dead push can be retried.",
            ));
        }
        Err(e) if crate::error::is_unique_violation(&e) => {
            return Err(ApiError::conflict(
                "newer_push_pending",
                "A newer push for this partner is already queued; it carries the latest state.",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    sync::push_now(&state, &row.partner_id).await;
    let row = db::outbox::get(state.db.pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such push."))?;
    Ok(Json(OutboxRowView::from(&row)))
}

/// Backfill now: push every partner not yet on the Network (joins a run in progress).
#[utoipa::path(post, path = "/config/network/backfill", tag = "network", security(("bearer" = [])),
    responses((status = 202, body = BackfillStarted),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 503, description = "`network_not_configured`", body = ErrorBody)))]
async fn start_backfill(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<(StatusCode, Json<BackfillStarted>)> {
    auth.require_admin()?;
    let run = backfill::start(&state).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(BackfillStarted {
            run_id: run.id,
            total: run.total,
        }),
    ))
}

/// The latest backfill run's progress.
#[utoipa::path(get, path = "/config/network/backfill", tag = "network", security(("bearer" = [])),
    responses((status = 200, body = BackfillView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn get_backfill(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<BackfillView>> {
    auth.require_admin()?;
    Ok(Json(
        db::backfill::latest(state.db.pool()).await?.as_ref().into(),
    ))
}
