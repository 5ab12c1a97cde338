//! Commissions (list, approve, pay, reverse) and the partner dashboard.

mod dashboard;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::commissions::CommissionFilter;
use crate::domain::commission::CommissionStatus as Status;
use crate::domain::cursor::Position;
use crate::domain::ids::{CommissionId, PartnerId};
use crate::domain::scopes::Scope;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, ApiQuery, MaybeJson};
use crate::http::paging;
use crate::http::partners::parse_limit;
use crate::http::sales::{CommissionWithSale, with_sales};
use crate::service::commissions as commissions_svc;
use crate::service::partners as partners_svc;
use crate::state::AppState;
use crate::views::CommissionView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_commissions))
        .routes(routes!(list_partner_commissions))
        .routes(routes!(approve))
        .routes(routes!(pay))
        .routes(routes!(reverse))
        .routes(routes!(dashboard::dashboard))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommissionPage {
    /// Each with the sale it came from.
    commissions: Vec<CommissionWithSale>,
    next_cursor: Option<String>,
}

/// Tolerant of keys it does not know: the Network reads these pages.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CommissionQuery {
    /// `accrued`, `approved`, `paid`, `reversed` or `on_hold`.
    status: Option<String>,
    /// 1–500, default 100.
    limit: Option<String>,
    cursor: Option<String>,
}

/// `GET /commissions` also filters by partner and program.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct AllCommissionsQuery {
    /// `accrued`, `approved`, `paid` or `reversed`.
    status: Option<String>,
    /// Only this partner's commissions.
    partner_id: Option<String>,
    /// Only this program's commissions.
    program_id: Option<String>,
    /// 1–500, default 100.
    limit: Option<String>,
    cursor: Option<String>,
}

/// An id given as a filter: at most 64 characters, letters, digits, `_` and `-`.
fn id_filter(name: &str, value: Option<String>) -> ApiResult<Option<String>> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v)
            if v.len() <= 64
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
        {
            Ok(Some(v))
        }
        Some(_) => Err(ApiError::invalid_query(format!(
            "{name} must be an id (at most 64 letters, digits, _ or -)"
        ))),
    }
}

async fn page(
    state: &AppState,
    partner: Option<&PartnerId>,
    program: Option<&str>,
    q: CommissionQuery,
) -> ApiResult<Json<CommissionPage>> {
    let limit = parse_limit(q.limit.as_deref(), 100, 500)?;
    let status = match q.status.as_deref() {
        None | Some("") => None,
        Some(s) => Some(Status::parse(s).ok_or_else(|| {
            ApiError::invalid_query("status must be accrued, approved, paid, reversed or on_hold")
        })?),
    };
    let after = paging::after(state, q.cursor.as_deref())?;
    let filter = CommissionFilter {
        partner,
        program,
        status,
        after: after.as_ref().map(|p| (p.created_at, p.id.as_str())),
    };
    let mut rows = db::commissions::list(state.db.pool(), &filter, limit + 1).await?;
    let next = paging::next_cursor(state, &mut rows, limit, |c| Position {
        created_at: c.accrued_at.millis(),
        id: c.id.to_string(),
    });
    Ok(Json(CommissionPage {
        commissions: with_sales(state, &rows).await?,
        next_cursor: next,
    }))
}

/// All commissions, newest first: admin or `commissions:read`. Filters by status, partner and
/// program.
#[utoipa::path(get, path = "/commissions", tag = "commissions", security(("bearer" = [])),
    params(AllCommissionsQuery),
    responses((status = 200, body = CommissionPage),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `commissions:read`)", body = ErrorBody)))]
async fn list_commissions(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AllCommissionsQuery>,
) -> ApiResult<Json<CommissionPage>> {
    auth.require_scope(Scope::CommissionsRead)?;
    let partner = id_filter("partnerId", q.partner_id)?.map(PartnerId::from_string);
    let program = id_filter("programId", q.program_id)?;
    let rest = CommissionQuery {
        status: q.status,
        limit: q.limit,
        cursor: q.cursor,
    };
    page(&state, partner.as_ref(), program.as_deref(), rest).await
}

/// One partner's commissions: admin, `commissions:read`, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}/commissions", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path), CommissionQuery),
    responses((status = 200, body = CommissionPage),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn list_partner_commissions(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<CommissionQuery>,
) -> ApiResult<Json<CommissionPage>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::CommissionsRead)?;
    partners_svc::get_existing(&state, &id).await?;
    page(&state, Some(&id), None, q).await
}

async fn transition(
    state: &AppState,
    auth: &Auth,
    id: &CommissionId,
    to: Status,
) -> ApiResult<Json<CommissionView>> {
    auth.require_admin()?;
    let updated = commissions_svc::transition(state, id, to).await?;
    Ok(Json(CommissionView::from(&updated)))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApproveBody {
    /// Approve before `matureAt` (the holdback); recorded on the commission.
    force: Option<bool>,
}

/// Approve an accrued commission (admin). Refused with 409 `not_mature` before its `matureAt`
/// unless the body says `{"force": true}`. The body is optional.
#[utoipa::path(post, path = "/commissions/{id}/approve", operation_id = "approve_commission", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<ApproveBody>),
    responses((status = 200, body = CommissionView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`, `not_mature` (with `matureAt`)", body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<ApproveBody>,
) -> ApiResult<Json<CommissionView>> {
    auth.require_admin()?;
    let force = body.force.unwrap_or(false);
    let id = CommissionId::from_string(id);
    let updated = commissions_svc::approve(&state, &id, force).await?;
    Ok(Json(CommissionView::from(&updated)))
}

/// Mark an approved commission paid (admin).
#[utoipa::path(post, path = "/commissions/{id}/pay", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = CommissionView),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody)))]
async fn pay(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<CommissionView>> {
    let id = CommissionId::from_string(id);
    transition(&state, &auth, &id, Status::Paid).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReverseBody {
    /// Why (e.g. "refunded"), up to 500 characters.
    reason: Option<String>,
}

/// Reverse a commission (admin), e.g. after a refund. A paid one becomes a clawback that the
/// next payout in its currency nets; one in a payout not yet paid is refused (cancel the
/// payout first).
#[utoipa::path(post, path = "/commissions/{id}/reverse", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<ReverseBody>),
    responses((status = 200, body = CommissionView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`, `in_payout`", body = ErrorBody)))]
async fn reverse(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<ReverseBody>,
) -> ApiResult<Json<CommissionView>> {
    auth.require_admin()?;
    let reason = body
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::invalid_field("reason", "at most 500 characters"));
    }
    let id = CommissionId::from_string(id);
    let updated = commissions_svc::reverse(&state, &id, reason.as_deref()).await?;
    Ok(Json(CommissionView::from(&updated)))
}
