//! An endpoint's delivery log, retrying a delivery, and sending a test event (admin only).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::webhook_deliveries::Delivery;
use crate::db::webhooks::Endpoint;
use crate::domain::cursor::Position;
use crate::domain::time::Timestamp;
use crate::domain::webhooks::DeliveryStatus;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, ApiQuery};
use crate::http::paging;
use crate::http::partners::parse_limit;
use crate::state::AppState;
use crate::webhooks::{self, deliver};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_deliveries))
        .routes(routes!(retry_delivery))
        .routes(routes!(send_test))
}

/// One event's delivery to one endpoint.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    id: String,
    /// Also the `webhook-id` header, the same on every attempt.
    event_id: String,
    #[serde(rename = "type")]
    kind: String,
    /// `pending`, `delivered` or `failed`.
    status: String,
    attempts: i64,
    last_status_code: Option<i64>,
    last_latency_ms: Option<i64>,
    /// The first KiB of the last answer, or why there was none (timeout, refused address...).
    last_response: Option<String>,
    /// While pending: when it is sent next.
    next_attempt_at: Option<Timestamp>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            next_attempt_at: (d.status == DeliveryStatus::Pending).then_some(d.next_attempt_at),
            id: d.id,
            event_id: d.event_id,
            kind: d.event_type,
            status: d.status.as_str().to_string(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_latency_ms: d.last_latency_ms,
            last_response: d.last_response,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPage {
    deliveries: Vec<DeliveryView>,
    /// Null on the last page.
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    status: Option<String>,
    /// Opaque, from a previous `nextCursor`.
    cursor: Option<String>,
    /// 1–100, default 50.
    limit: Option<String>,
}

async fn endpoint(state: &AppState, id: &str) -> ApiResult<Endpoint> {
    db::webhooks::get_endpoint(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such webhook endpoint."))
}

fn endpoint_disabled() -> ApiError {
    ApiError::conflict(
        "endpoint_disabled",
        "This endpoint is disabled; enable it first (PATCH with enabled: true).",
    )
}

/// Sends a delivery now when it is first in its endpoint's queue (else it waits its turn),
/// then answers with its state.
async fn send_and_show(state: &AppState, endpoint_id: &str, id: &str) -> ApiResult<DeliveryView> {
    deliver::send_now(state, id)
        .await
        .map_err(ApiError::internal)?;
    db::webhook_deliveries::get(state.db.pool(), endpoint_id, id)
        .await?
        .map(DeliveryView::from)
        .ok_or_else(|| ApiError::not_found("No such delivery."))
}

/// An endpoint's deliveries, newest first.
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path), DeliveryQuery),
    responses((status = 200, body = DeliveryPage),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn list_deliveries(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DeliveryQuery>,
) -> ApiResult<Json<DeliveryPage>> {
    auth.require_admin()?;
    endpoint(&state, &id).await?;
    let limit = parse_limit(q.limit.as_deref(), 50, 100)?;
    let status = match q.status.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(DeliveryStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_query("status must be pending, delivered or failed")
        })?),
    };
    let before = paging::after(&state, q.cursor.as_deref())?.map(|p| p.created_at);
    let mut rows =
        db::webhook_deliveries::list(state.db.pool(), &id, status, before, limit + 1).await?;
    let next_cursor = paging::next_cursor(&state, &mut rows, limit, |d| Position {
        created_at: d.seq,
        id: d.id.clone(),
    });
    Ok(Json(DeliveryPage {
        deliveries: rows.into_iter().map(DeliveryView::from).collect(),
        next_cursor,
    }))
}

/// Send a delivery again (same `webhook-id`): now, when no earlier delivery of the endpoint is
/// pending, else in its turn. Its attempts count on: after its schedule is spent, one more
/// attempt is made.
#[utoipa::path(post, path = "/webhooks/{id}/deliveries/{deliveryId}/retry", tag = "webhooks",
    security(("bearer" = [])),
    params(("id" = String, Path), ("deliveryId" = String, Path)),
    responses((status = 200, body = DeliveryView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`endpoint_disabled`", body = ErrorBody)))]
async fn retry_delivery(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((id, delivery_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<DeliveryView>> {
    auth.require_admin()?;
    if !endpoint(&state, &id).await?.enabled {
        return Err(endpoint_disabled());
    }
    if db::webhook_deliveries::get(state.db.pool(), &id, &delivery_id)
        .await?
        .is_none()
    {
        return Err(ApiError::not_found("No such delivery."));
    }
    db::webhook_deliveries::requeue(&state.db, &delivery_id, state.clock.now()).await?;
    Ok(Json(send_and_show(&state, &id, &delivery_id).await?))
}

/// Send a `webhook.test` event to this endpoint (whatever it subscribes to), now when nothing
/// earlier is pending for it.
#[utoipa::path(post, path = "/webhooks/{id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DeliveryView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`endpoint_disabled`", body = ErrorBody)))]
async fn send_test(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DeliveryView>> {
    auth.require_admin()?;
    if !endpoint(&state, &id).await?.enabled {
        return Err(endpoint_disabled());
    }
    let mut tx = state.db.begin().await?;
    let now = state.clock.now();
    let delivery = webhooks::record_test(&mut tx, &id, now).await?;
    let change = crate::db::audit::Change {
        action: "webhook_endpoint.test",
        target_type: "webhook_endpoint",
        target_id: &id,
        changes: serde_json::json!({"deliveryId": {"before": null, "after": delivery}}),
    };
    crate::db::audit::append(&mut tx, change, now).await?;
    tx.commit().await?;
    Ok(Json(send_and_show(&state, &id, &delivery).await?))
}
