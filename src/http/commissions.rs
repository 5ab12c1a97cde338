//! Commissions (list, approve, pay, reverse) and the partner dashboard.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db::commissions::{CommissionFilter, Status};
use crate::domain::cursor::{self, Position};
use crate::domain::ids::PartnerId;
use crate::domain::money::Currency;
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, ApiQuery};
use crate::http::partners::parse_limit;
use crate::service::conversions::commission_json;
use crate::service::partners as partners_svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_commissions))
        .routes(routes!(list_partner_commissions))
        .routes(routes!(approve))
        .routes(routes!(pay))
        .routes(routes!(reverse))
        .routes(routes!(dashboard))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommissionQuery {
    /// `accrued`, `approved`, `paid` or `reversed`.
    status: Option<String>,
    /// 1–200, default 100.
    limit: Option<String>,
    cursor: Option<String>,
}

async fn page(
    state: &AppState,
    partner: Option<&PartnerId>,
    q: CommissionQuery,
) -> ApiResult<Json<Value>> {
    let limit = parse_limit(q.limit.as_deref(), 100, 200)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid_query("status must be accrued, approved, paid or reversed")
        })?),
    };
    let after = match q.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(cursor::decode(&state.cursor_key[..], c).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "The cursor is malformed or was altered.")
        })?),
    };
    let filter = CommissionFilter {
        partner,
        status,
        after: after.as_ref().map(|p| (p.created_at, p.id.as_str())),
    };
    let mut rows = state.db.list_commissions(&filter, limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|c| {
            cursor::encode(
                &state.cursor_key[..],
                &Position {
                    created_at: c.accrued_at.millis(),
                    id: c.id.clone(),
                },
            )
        })
    } else {
        None
    };
    Ok(Json(json!({
        "commissions": rows.iter().map(commission_json).collect::<Vec<_>>(),
        "nextCursor": next,
    })))
}

/// All commissions, newest first: admin or `commissions:read`.
#[utoipa::path(get, path = "/commissions", tag = "commissions", security(("bearer" = [])),
    params(CommissionQuery),
    responses((status = 200, description = "`{commissions: [{id, partnerId, programId, eventId, amount, currency, status, accruedAt, matureAt}], nextCursor}`", body = Object),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `commissions:read`)", body = ErrorBody)))]
async fn list_commissions(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<CommissionQuery>,
) -> ApiResult<Json<Value>> {
    auth.require_scope(Scope::CommissionsRead)?;
    page(&state, None, q).await
}

/// One partner's commissions: admin, `commissions:read`, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}/commissions", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path), CommissionQuery),
    responses((status = 200, description = "`{commissions, nextCursor}`", body = Object),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn list_partner_commissions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CommissionQuery>,
) -> ApiResult<Json<Value>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::CommissionsRead)?;
    partners_svc::get_existing(&state, &id).await?;
    page(&state, Some(&id), q).await
}

async fn transition(state: &AppState, auth: &Auth, id: &str, to: Status) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let Some(current) = state.db.get_commission(id).await? else {
        return Err(ApiError::not_found("No such commission."));
    };
    if !state
        .db
        .transition_commission(id, to, state.clock.now())
        .await?
    {
        return Err(ApiError::conflict(
            "invalid_transition",
            format!(
                "A commission that is {} cannot become {}.",
                current.status.as_str(),
                to.as_str()
            ),
        ));
    }
    let updated = state
        .db
        .get_commission(id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such commission."))?;
    Ok(Json(commission_json(&updated)))
}

/// Approve an accrued commission (admin).
#[utoipa::path(post, path = "/commissions/{id}/approve", operation_id = "approve_commission", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The commission", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    transition(&state, &auth, &id, Status::Approved).await
}

/// Mark an approved commission paid (admin).
#[utoipa::path(post, path = "/commissions/{id}/pay", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The commission", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody)))]
async fn pay(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    transition(&state, &auth, &id, Status::Paid).await
}

/// Reverse an accrued or approved commission (admin), e.g. after a refund.
#[utoipa::path(post, path = "/commissions/{id}/reverse", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The commission", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody)))]
async fn reverse(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Value>> {
    transition(&state, &auth, &id, Status::Reversed).await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// RFC 3339; default: all time.
    since: Option<String>,
}

/// A partner's figures since `since`: admin, `partners:read`, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}/dashboard", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path), DashboardQuery),
    responses((status = 200, description = "`{partnerId, since, clicks, attributedEvents, attributedRevenue, currency, commissionByStatus: {accrued, approved, paid, reversed}, links}`", body = Object),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn dashboard(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> ApiResult<Json<Value>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::PartnersRead)?;
    partners_svc::get_existing(&state, &id).await?;
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(
            Timestamp::parse_rfc3339(s)
                .ok_or_else(|| ApiError::invalid_query("since must be an RFC 3339 timestamp"))?,
        ),
    };
    let from = since.unwrap_or(Timestamp::from_millis(i64::MIN / 2));
    state.clicks.flush().await;
    let clicks = state.db.count_clicks(&id, from).await?;
    let (events, revenue) = state.db.attributed_totals(&id, from).await?;
    let commissions = state.db.commission_totals(&id, from).await?;
    // Figures are reported in the partner's main currency: the one most of its events use.
    let main = revenue
        .first()
        .map(|(c, _)| c.clone())
        .or_else(|| commissions.first().map(|(_, c, _)| c.clone()))
        .unwrap_or_else(|| "USD".into());
    let currency = Currency::parse(&main).unwrap_or_else(|_| Currency::parse("USD").unwrap());
    let revenue_minor = revenue
        .iter()
        .find(|(c, _)| *c == main)
        .map_or(0, |(_, v)| *v);
    let mut by_status = Map::new();
    for s in Status::ALL {
        let minor: i64 = commissions
            .iter()
            .filter(|(st, c, _)| st == s.as_str() && *c == main)
            .map(|(_, _, v)| *v)
            .sum();
        by_status.insert(
            s.as_str().into(),
            Value::String(currency.format_minor(minor)),
        );
    }
    let per_link = state.db.clicks_by_link(&id, from).await?;
    let links: Vec<Value> = state
        .db
        .list_partner_links(&id)
        .await?
        .into_iter()
        .map(|l| {
            let n = per_link
                .iter()
                .find(|(lid, _)| *lid == l.id)
                .map_or(0, |(_, n)| *n);
            json!({"id": l.id, "linkKey": l.link_key, "programId": l.program_id, "clicks": n,
                   "shareUrl": format!("{}/r/{}", state.config.public_url, l.link_key)})
        })
        .collect();
    Ok(Json(json!({
        "partnerId": id,
        "since": since,
        "clicks": clicks,
        "attributedEvents": events,
        "attributedRevenue": currency.format_minor(revenue_minor),
        "currency": currency.as_str(),
        "commissionByStatus": by_status,
        "links": links,
    })))
}
