//! `/payouts`: runs, reads, the manual rail (CSV export, mark paid), cancel and retry; a
//! partner's payouts and balance; `/config/payouts` (schedule and minimums).

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::payouts::{Payout, PayoutFilter};
use crate::domain::cursor::Position;
use crate::domain::ids::PartnerId;
use crate::domain::money::Currency;
use crate::domain::payouts::{PayoutMethod, PayoutStatus, Schedule};
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery, MaybeJson};
use crate::http::paging;
use crate::http::partners::parse_limit;
use crate::service::partners as partners_svc;
use crate::service::payouts::{self as svc, RunRequest, Settings};
use crate::state::AppState;
pub use crate::views::{PayoutView, payout_view};

mod manual;
mod run;
mod settings;
pub(crate) use settings::{SettingsView, settings_view};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get_one))
        .routes(routes!(partner_payouts))
        .routes(routes!(balance))
        .merge(settings::router())
        .merge(run::router())
        .merge(manual::router())
}

async fn full_view(state: &AppState, p: Payout) -> ApiResult<PayoutView> {
    let ids = db::payouts::commission_ids(&state.db, &p.id).await?;
    Ok(payout_view(p, ids))
}

// ---- reads ----

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pending`, `processing`, `paid`, `failed` or `canceled`.
    status: Option<String>,
    partner_id: Option<String>,
    cursor: Option<String>,
    /// 1–200, default 50.
    limit: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutPage {
    payouts: Vec<PayoutView>,
    next_cursor: Option<String>,
}

fn parse_status(raw: Option<&str>) -> ApiResult<Option<PayoutStatus>> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => PayoutStatus::parse(s).map(Some).ok_or_else(|| {
            ApiError::invalid_query("status must be pending, processing, paid, failed or canceled")
        }),
    }
}

async fn page(
    state: &AppState,
    partner: Option<&PartnerId>,
    status: Option<&str>,
    cursor_raw: Option<&str>,
    limit: Option<&str>,
) -> ApiResult<Json<PayoutPage>> {
    let limit = parse_limit(limit, 50, 200)?;
    let status = parse_status(status)?;
    let after = paging::after(state, cursor_raw)?;
    let filter = PayoutFilter {
        status,
        partner,
        after: after.as_ref().map(|p| (p.created_at, p.id.as_str())),
    };
    let mut rows = db::payouts::list(state.db.pool(), &filter, limit + 1).await?;
    let next = paging::next_cursor(state, &mut rows, limit, |p| Position {
        created_at: p.created_at.millis(),
        id: p.id.clone(),
    });
    // One query for every payout's commissions, not one per payout.
    let ids: Vec<&str> = rows.iter().map(|p| p.id.as_str()).collect();
    let mut held = db::payouts::commission_ids_many(&state.db, &ids).await?;
    let payouts = rows
        .into_iter()
        .map(|p| {
            let ids = held.remove(&p.id).unwrap_or_default();
            payout_view(p, ids)
        })
        .collect();
    Ok(Json(PayoutPage {
        payouts,
        next_cursor: next,
    }))
}

/// List payouts, newest first (admin).
#[utoipa::path(get, path = "/payouts", tag = "payouts", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, body = PayoutPage),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<PayoutPage>> {
    auth.require_admin()?;
    let partner = q
        .partner_id
        .filter(|p| !p.is_empty())
        .map(PartnerId::from_string);
    page(
        &state,
        partner.as_ref(),
        q.status.as_deref(),
        q.cursor.as_deref(),
        q.limit.as_deref(),
    )
    .await
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PartnerPageQuery {
    status: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

/// One partner's payouts: admin, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}/payouts", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path), PartnerPageQuery),
    responses((status = 200, body = PayoutPage),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn partner_payouts(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PartnerPageQuery>,
) -> ApiResult<Json<PayoutPage>> {
    let id = PartnerId::from_string(id);
    auth.require_admin_or_self(&id)?;
    partners_svc::get_existing(&state, &id).await?;
    page(
        &state,
        Some(&id),
        q.status.as_deref(),
        q.cursor.as_deref(),
        q.limit.as_deref(),
    )
    .await
}

async fn existing(state: &AppState, id: &str) -> ApiResult<Payout> {
    db::payouts::get(state.db.pool(), id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such payout."))
}

/// A payout, with its commission ids (admin).
#[utoipa::path(get, path = "/payouts/{id}", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PayoutView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn get_one(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PayoutView>> {
    auth.require_admin()?;
    let p = existing(&state, &id).await?;
    Ok(Json(full_view(&state, p).await?))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BalanceView {
    currency: String,
    /// Accrued, not yet approved (in holdback or awaiting approval).
    accrued: String,
    /// Approved, in no payout yet.
    approved: String,
    /// Approved and in a payout not yet paid. (Commissions `on_hold` while a Stripe dispute
    /// is open are in none of these figures.)
    in_payout: String,
    /// Outstanding clawbacks the next payout nets.
    clawback: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Balances {
    balances: Vec<BalanceView>,
}

/// A partner's balance per currency: admin, `commissions:read`, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}/balance", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Balances),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn balance(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Balances>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::CommissionsRead)?;
    partners_svc::get_existing(&state, &id).await?;
    let balances = db::payout_reports::balances(&state.db, &id)
        .await?
        .into_iter()
        .map(|b| {
            let c = Currency::parse(&b.currency).unwrap_or_else(|_| Currency::usd());
            BalanceView {
                accrued: c.format_minor(b.accrued),
                approved: c.format_minor(b.approved),
                in_payout: c.format_minor(b.in_payout),
                clawback: c.format_minor(b.clawback),
                currency: b.currency,
            }
        })
        .collect();
    Ok(Json(Balances { balances }))
}
