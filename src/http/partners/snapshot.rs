//! `/partners/:id/commission-snapshot`: the commission terms a partner was approved under.
//! Null when none exists (the program's live rule applies at accrual).

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::partners::Snapshot;
use crate::domain::ids::PartnerId;
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath};
use crate::http::partners::SnapshotBody;
use crate::http::rules::{RuleView, Strictness, rule_views};
use crate::service::partners as svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_snapshot, put_snapshot, delete_snapshot))
}

/// The snapshot: its rules, and the legacy single-rule mirror (of the first `every` rule, else
/// the first rule).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotView {
    partner_id: PartnerId,
    commission_rules: Vec<RuleView>,
    /// `percent` or `fixed`.
    commission_type: &'static str,
    commission_value: String,
    recurring: bool,
    holdback_days: Option<i64>,
    /// `approval` or `amendment`.
    source: String,
    snapshotted_at: Timestamp,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SnapshotAnswer {
    snapshot: Option<SnapshotView>,
}

impl From<Snapshot> for SnapshotView {
    fn from(s: Snapshot) -> Self {
        let legacy = s.rules.legacy();
        SnapshotView {
            commission_rules: rule_views(&s.rules),
            commission_type: legacy.rate.kind.as_str(),
            commission_value: legacy.rate.display_value(legacy.currency),
            recurring: legacy.recurring,
            partner_id: s.partner_id,
            holdback_days: s.holdback_days,
            source: s.source,
            snapshotted_at: s.snapshotted_at,
        }
    }
}

/// Get the partner's commission snapshot: admin, `partners:read`, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}/commission-snapshot", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = SnapshotAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn get_snapshot(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SnapshotAnswer>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::PartnersRead)?;
    svc::get_existing(&state, &id).await?;
    let snapshot = db::partners::get_snapshot(state.db.pool(), &id).await?;
    Ok(Json(SnapshotAnswer {
        snapshot: snapshot.map(SnapshotView::from),
    }))
}

/// Set (amend) the snapshot; its source becomes `amendment`.
#[utoipa::path(put, path = "/partners/{id}/commission-snapshot", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = SnapshotBody,
    responses((status = 200, body = SnapshotAnswer),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn put_snapshot(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<SnapshotBody>,
) -> ApiResult<Json<SnapshotAnswer>> {
    auth.require_admin()?;
    let id = PartnerId::from_string(id);
    let mut errors = Vec::new();
    let Some(new) = body.validate(Strictness::Strict, &mut errors, "") else {
        return Err(ApiError::invalid_body(errors));
    };
    svc::get_existing(&state, &id).await?;
    let snapshot = Snapshot {
        partner_id: id,
        rules: new.rules,
        holdback_days: new.holdback_days,
        source: "amendment".into(),
        snapshotted_at: state.clock.now(),
    };
    let mut tx = state.db.begin().await?;
    db::partners::upsert_snapshot(&mut tx, &snapshot).await?;
    tx.commit().await?;
    Ok(Json(SnapshotAnswer {
        snapshot: Some(snapshot.into()),
    }))
}

/// Remove the snapshot: the program's live rule applies from now on.
#[utoipa::path(delete, path = "/partners/{id}/commission-snapshot", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "`{\"snapshot\": null}`", body = SnapshotAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn delete_snapshot(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SnapshotAnswer>> {
    auth.require_admin()?;
    let id = PartnerId::from_string(id);
    svc::get_existing(&state, &id).await?;
    db::partners::delete_snapshot(&state.db, &id, state.clock.now()).await?;
    Ok(Json(SnapshotAnswer { snapshot: None }))
}
