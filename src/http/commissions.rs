//! Commissions (list, approve, pay, reverse) and the partner dashboard.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db::commissions::CommissionFilter;
use crate::domain::commission::CommissionStatus as Status;
use crate::domain::cursor::Position;
use crate::domain::ids::{CommissionId, PartnerId};
use crate::domain::money::{Currency, ExactNumber};
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
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
        .routes(routes!(dashboard))
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
    let mut rows = state.db.list_commissions(&filter, limit + 1).await?;
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

/// Tolerant of keys it does not know: the Network reads the dashboard.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DashboardQuery {
    /// RFC 3339; default 30 days ago.
    since: Option<String>,
}

/// Amounts per commission status, as JSON numbers with exact decimal digits (held ones,
/// `on_hold`, are in none of them until the dispute closes).
#[derive(Serialize, utoipa::ToSchema)]
pub struct ByStatus {
    accrued: ExactNumber,
    approved: ExactNumber,
    paid: ExactNumber,
    reversed: ExactNumber,
}

impl ByStatus {
    fn of(totals: &[(Status, String, i64)], currency: &Currency) -> ByStatus {
        let sum = |s: Status| {
            let minor = totals
                .iter()
                .filter(|(st, c, _)| *st == s && c == currency.as_str())
                .map(|(_, _, v)| *v)
                .sum();
            ExactNumber::from_minor(minor, currency)
        };
        ByStatus {
            accrued: sum(Status::Accrued),
            approved: sum(Status::Approved),
            paid: sum(Status::Paid),
            reversed: sum(Status::Reversed),
        }
    }
}

/// One currency's figures.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrencyFigures {
    attributed_events: i64,
    attributed_revenue: ExactNumber,
    commission_by_status: ByStatus,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DashboardLink {
    id: String,
    link_key: String,
    program_id: String,
    clicks: i64,
    share_url: String,
}

/// A partner's figures. The totals are in the partner's main currency (the one most of its
/// attributed events use); `byCurrency` has every currency, so nothing is hidden. Amounts are
/// JSON numbers written with their exact decimal digits.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dashboard {
    partner_id: PartnerId,
    since: Timestamp,
    clicks: i64,
    /// Attributed events in every currency.
    attributed_events: i64,
    attributed_revenue: ExactNumber,
    currency: String,
    commission_by_status: ByStatus,
    by_currency: BTreeMap<String, CurrencyFigures>,
    links: Vec<DashboardLink>,
}

/// A partner's figures since `since` (default 30 days ago): admin, `partners:read`, or the
/// partner itself.
#[utoipa::path(get, path = "/partners/{id}/dashboard", tag = "commissions", security(("bearer" = [])),
    params(("id" = String, Path), DashboardQuery),
    responses((status = 200, body = Dashboard),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn dashboard(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<DashboardQuery>,
) -> ApiResult<Json<Dashboard>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::PartnersRead)?;
    partners_svc::get_existing(&state, &id).await?;
    let since = match q.since.as_deref().filter(|s| !s.is_empty()) {
        None => state.clock.now().plus_days(-30),
        Some(s) => Timestamp::parse_rfc3339(s)
            .ok_or_else(|| ApiError::invalid_query("since must be an RFC 3339 timestamp"))?,
    };
    state.clicks.flush().await;
    let clicks = state.db.count_clicks(&id, since).await?;
    let (events, revenue) = state.db.attributed_totals(&id, since).await?;
    let commissions = state.db.commission_totals(&id, since).await?;
    // Every currency seen, in events or commissions; the main one first (most events).
    let mut currencies: Vec<String> = revenue.iter().map(|(c, _, _)| c.clone()).collect();
    for (_, c, _) in &commissions {
        if !currencies.contains(c) {
            currencies.push(c.clone());
        }
    }
    let main = currencies.first().cloned().unwrap_or_else(|| "USD".into());
    let mut by_currency = BTreeMap::new();
    for code in &currencies {
        let currency = Currency::parse(code).unwrap_or_else(|_| Currency::usd());
        let (n, minor) = revenue
            .iter()
            .find(|(c, _, _)| c == code)
            .map_or((0, 0), |(_, n, v)| (*n, *v));
        by_currency.insert(
            code.clone(),
            CurrencyFigures {
                attributed_events: n,
                attributed_revenue: ExactNumber::from_minor(minor, &currency),
                commission_by_status: ByStatus::of(&commissions, &currency),
            },
        );
    }
    let currency = Currency::parse(&main).unwrap_or_else(|_| Currency::usd());
    let revenue_minor = revenue
        .iter()
        .find(|(c, _, _)| *c == main)
        .map_or(0, |(_, _, v)| *v);
    let per_link = state.db.clicks_by_link(&id, since).await?;
    let links = state
        .db
        .list_partner_links(&id)
        .await?
        .into_iter()
        .map(|l| DashboardLink {
            clicks: per_link
                .iter()
                .find(|(lid, _)| *lid == l.id)
                .map_or(0, |(_, n)| *n),
            share_url: format!("{}/r/{}", state.config.public_url, l.link_key),
            id: l.id.into_string(),
            link_key: l.link_key,
            program_id: l.program_id.to_string(),
        })
        .collect();
    Ok(Json(Dashboard {
        partner_id: id,
        since,
        clicks,
        attributed_events: events,
        attributed_revenue: ExactNumber::from_minor(revenue_minor, &currency),
        currency: currency.as_str().to_string(),
        commission_by_status: ByStatus::of(&commissions, &currency),
        by_currency,
        links,
    }))
}
