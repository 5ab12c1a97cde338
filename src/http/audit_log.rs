//! `GET /audit-log` (admin): who changed what, newest first. There is no route that updates or
//! deletes an entry.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::audit::{AuditFilter, AuditRow};
use crate::domain::cursor::Position;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiQuery;
use crate::http::paging;
use crate::http::partners::parse_limit;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_log))
}

/// Filters longer than this cannot match anything we store.
const MAX_FILTER: usize = 200;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// An API key id, `admin_api_key`, `partner:<id>`, `anonymous` or `system:<job>`.
    actor: Option<String>,
    /// e.g. `partner.revoke`, `commission.approve`.
    action: Option<String>,
    target_id: Option<String>,
    /// RFC 3339: entries at or after this time.
    since: Option<String>,
    cursor: Option<String>,
    /// 1–200, default 50.
    limit: Option<String>,
}

/// One change.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    id: String,
    at: Timestamp,
    /// The API key id (a console session records the key it was opened with), `admin_api_key`,
    /// `partner:<id>`, `anonymous` or `system:<job>`.
    actor: String,
    /// The key's label, when the actor is a key that has one.
    actor_label: Option<String>,
    action: String,
    target_type: String,
    target_id: String,
    /// `{field: {before, after}}`; secrets are never recorded.
    #[schema(value_type = Object)]
    changes: Value,
    request_id: Option<String>,
    /// The keyed hash of the client's IP (never the address).
    ip_hash: Option<String>,
}

impl From<AuditRow> for AuditEntryView {
    fn from(r: AuditRow) -> Self {
        AuditEntryView {
            changes: serde_json::from_str(&r.changes).unwrap_or(Value::Null),
            id: r.id,
            at: r.at,
            actor: r.actor,
            actor_label: r.actor_label,
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            request_id: r.request_id,
            ip_hash: r.ip_hash,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    entries: Vec<AuditEntryView>,
    next_cursor: Option<String>,
}

fn filter_value<'a>(name: &str, raw: &'a Option<String>) -> ApiResult<Option<&'a str>> {
    match raw.as_deref().filter(|s| !s.is_empty()) {
        Some(v) if v.len() > MAX_FILTER || v.contains('\0') => Err(ApiError::invalid_query(
            format!("{name} must be at most {MAX_FILTER} characters, without NUL"),
        )),
        other => Ok(other),
    }
}

/// The audit log, newest first (admin).
#[utoipa::path(get, path = "/audit-log", tag = "system", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = AuditPage),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn list_audit_log(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Json<AuditPage>> {
    auth.require_admin()?;
    let limit = parse_limit(q.limit.as_deref(), 50, 200)?;
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            Timestamp::parse_rfc3339(s)
                .ok_or_else(|| ApiError::invalid_query("since must be an RFC 3339 timestamp"))?,
        ),
    };
    let after = paging::after(&state, q.cursor.as_deref())?;
    let filter = AuditFilter {
        actor: filter_value("actor", &q.actor)?,
        action: filter_value("action", &q.action)?,
        target_id: filter_value("targetId", &q.target_id)?,
        since,
        after: after.map(|p| (p.created_at, p.id)),
    };
    let mut rows = db::audit::list(state.db.pool(), &filter, limit + 1).await?;
    let next_cursor = paging::next_cursor(&state, &mut rows, limit, |r| Position {
        created_at: r.at.millis(),
        id: r.id.clone(),
    });
    Ok(Json(AuditPage {
        entries: rows.into_iter().map(Into::into).collect(),
        next_cursor,
    }))
}
