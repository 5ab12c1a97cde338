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

use crate::db::payouts::{Payout, PayoutFilter, PayoutWithItems};
use crate::domain::cursor::{self, Position};
use crate::domain::ids::PartnerId;
use crate::domain::money::Currency;
use crate::domain::payouts::{PayoutMethod, PayoutStatus, Schedule};
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery, MaybeJson};
use crate::http::partners::parse_limit;
use crate::service::partners as partners_svc;
use crate::service::payouts::{self as svc, RunRequest, Settings};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_settings, put_settings))
        .routes(routes!(run))
        .routes(routes!(list))
        .routes(routes!(export_csv))
        .routes(routes!(get_one))
        .routes(routes!(mark_paid))
        .routes(routes!(cancel))
        .routes(routes!(retry))
        .routes(routes!(partner_payouts))
        .routes(routes!(balance))
}

/// A payout as every endpoint shows it. Amounts are decimal strings in major units.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutView {
    id: String,
    partner_id: PartnerId,
    /// Net: its commissions minus the clawbacks it nets.
    amount: String,
    /// The commissions' total.
    gross: String,
    /// Clawbacks netted.
    clawback: String,
    currency: String,
    method: PayoutMethod,
    status: PayoutStatus,
    /// The commissions it holds (or held, once failed or canceled).
    commission_ids: Vec<String>,
    period_start: Option<Timestamp>,
    period_end: Option<Timestamp>,
    created_at: Timestamp,
    paid_at: Option<Timestamp>,
    failure_reason: Option<String>,
    stripe_transfer_id: Option<String>,
    reference: Option<String>,
}

fn view(p: Payout, commission_ids: Vec<String>) -> PayoutView {
    let currency = Currency::parse(&p.currency).unwrap_or_else(|_| Currency::usd());
    PayoutView {
        amount: currency.format_minor(p.amount_minor),
        gross: currency.format_minor(p.gross_minor),
        clawback: currency.format_minor(p.clawback_minor),
        id: p.id,
        partner_id: p.partner_id,
        currency: p.currency,
        method: p.method,
        status: p.status,
        commission_ids,
        period_start: p.period_start,
        period_end: p.period_end,
        created_at: p.created_at,
        paid_at: p.paid_at,
        failure_reason: p.failure_reason,
        stripe_transfer_id: p.stripe_transfer_id,
        reference: p.reference,
    }
}

impl crate::webhooks::EventData for PayoutWithItems {
    fn event_data(&self, _public_url: &str) -> Value {
        serde_json::to_value(view(self.payout.clone(), self.commission_ids.clone()))
            .unwrap_or(Value::Null)
    }
}

async fn full_view(state: &AppState, p: Payout) -> ApiResult<PayoutView> {
    let ids = state.db.payout_commission_ids(&p.id).await?;
    Ok(view(p, ids))
}

// ---- settings ----

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SettingsView {
    schedule: Schedule,
    /// Per currency, decimal strings in major units: `{"USD": "50.00"}`.
    minimum_amounts: BTreeMap<String, String>,
    /// The next scheduled run, if the schedule is not manual.
    next_run_at: Option<Timestamp>,
}

fn settings_view(s: &Settings, now: Timestamp) -> SettingsView {
    let now =
        chrono::DateTime::<chrono::Utc>::from_timestamp_millis(now.millis()).unwrap_or_default();
    SettingsView {
        schedule: s.schedule,
        minimum_amounts: s
            .minimums
            .iter()
            .map(|(c, m)| {
                let cur = Currency::parse(c).unwrap_or_else(|_| Currency::usd());
                (c.clone(), cur.format_minor(*m))
            })
            .collect(),
        next_run_at: s
            .schedule
            .next_run(now)
            .map(|t| Timestamp::from_millis(t.timestamp_millis())),
    }
}

/// Payout settings: schedule and per-currency minimums (admin).
#[utoipa::path(get, path = "/config/payouts", tag = "payouts", security(("bearer" = [])),
    responses((status = 200, body = SettingsView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<SettingsView>> {
    auth.require_admin()?;
    let s = svc::settings(&state).await?;
    Ok(Json(settings_view(&s, state.clock.now())))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsBody {
    /// `manual`, `weekly` (Mondays 09:00 UTC), `biweekly` (Mondays of even ISO weeks) or
    /// `monthly` (the 1st).
    schedule: Option<Schedule>,
    /// Per currency, in major units (string or number): `{"USD": "50.00"}`. Replaces the map.
    #[schema(value_type = Option<Object>)]
    minimum_amounts: Option<BTreeMap<String, Value>>,
}

/// Set payout settings (admin). Omitted fields keep their value.
#[utoipa::path(put, path = "/config/payouts", tag = "payouts", security(("bearer" = [])),
    request_body = SettingsBody,
    responses((status = 200, body = SettingsView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn put_settings(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<SettingsBody>,
) -> ApiResult<Json<SettingsView>> {
    auth.require_admin()?;
    let mut s = svc::settings(&state).await?;
    if let Some(schedule) = body.schedule {
        s.schedule = schedule;
    }
    if let Some(minimums) = body.minimum_amounts {
        let mut errors = Vec::new();
        if minimums.len() > 50 {
            errors.push(("minimumAmounts".into(), "at most 50 currencies".into()));
        }
        let mut parsed = BTreeMap::new();
        for (code, raw) in &minimums {
            match Currency::parse(code) {
                Err(m) => errors.push((format!("minimumAmounts.{code}"), m.to_string())),
                Ok(c) => match svc::parse_minimum(&c, raw) {
                    Ok(minor) => {
                        parsed.insert(c.as_str().to_string(), minor);
                    }
                    Err(m) => errors.push((format!("minimumAmounts.{code}"), m)),
                },
            }
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid_body(errors));
        }
        s.minimums = parsed;
    }
    svc::save_settings(&state, &s).await?;
    Ok(Json(settings_view(&s, state.clock.now())))
}

// ---- runs ----

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunBody {
    /// Only this currency.
    currency: Option<String>,
    /// Only these partners (at most 1000).
    partner_ids: Option<Vec<String>>,
    /// Preview: nothing is written.
    dry_run: Option<bool>,
    /// Pay revoked partners too (skipped by default).
    include_revoked: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkippedView {
    partner_id: PartnerId,
    currency: Option<String>,
    /// What it would have been paid (negative when clawbacks exceed it).
    balance: String,
    /// `below_minimum`, `negative_balance`, `partner_revoked` or `no_commissions`.
    reason: &'static str,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct RunAnswer {
    payouts: Vec<PayoutView>,
    skipped: Vec<SkippedView>,
}

/// Run payouts: one per partner and currency, of the approved commissions in no live payout
/// minus outstanding clawbacks. 201, or 200 for a dry run (nothing written). Stripe payouts
/// are sent at once in the background.
#[utoipa::path(post, path = "/payouts/run", tag = "payouts", security(("bearer" = [])),
    request_body(content = Option<RunBody>),
    responses((status = 201, body = RunAnswer),
        (status = 200, description = "Dry run: the preview", body = RunAnswer),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn run(
    State(state): State<AppState>,
    auth: Auth,
    MaybeJson(body): MaybeJson<RunBody>,
) -> ApiResult<(StatusCode, Json<RunAnswer>)> {
    auth.require_admin()?;
    let currency = match body.currency.as_deref().map(Currency::parse) {
        None => None,
        Some(Ok(c)) => Some(c),
        Some(Err(m)) => return Err(ApiError::invalid_field("currency", m)),
    };
    if body
        .partner_ids
        .as_ref()
        .is_some_and(|p| p.len() > 1000 || p.iter().any(|id| id.is_empty() || id.len() > 100))
    {
        return Err(ApiError::invalid_field(
            "partnerIds",
            "at most 1000 ids of 1 to 100 characters",
        ));
    }
    let req = RunRequest {
        currency,
        partner_ids: body
            .partner_ids
            .map(|ids| ids.into_iter().map(PartnerId::from_string).collect()),
        dry_run: body.dry_run.unwrap_or(false),
        include_revoked: body.include_revoked.unwrap_or(false),
    };
    let result = svc::run(&state, &req).await?;
    let mut payouts = Vec::with_capacity(result.payouts.len());
    for p in result.payouts {
        payouts.push(if req.dry_run {
            view(p, Vec::new())
        } else {
            full_view(&state, p).await?
        });
    }
    let skipped = result
        .skipped
        .into_iter()
        .map(|s| {
            let cur = s
                .currency
                .as_deref()
                .and_then(|c| Currency::parse(c).ok())
                .unwrap_or_else(Currency::usd);
            SkippedView {
                balance: cur.format_minor(s.balance_minor),
                partner_id: s.partner_id,
                currency: s.currency,
                reason: s.reason,
            }
        })
        .collect();
    let status = if req.dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(RunAnswer { payouts, skipped })))
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
    let after = match cursor_raw.filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(cursor::decode(&state.cursor_key[..], c).ok_or_else(|| {
            ApiError::bad_request("invalid_cursor", "The cursor is malformed or was altered.")
        })?),
    };
    let filter = PayoutFilter {
        status,
        partner,
        after: after.as_ref().map(|p| (p.created_at, p.id.as_str())),
    };
    let mut rows = state.db.list_payouts(&filter, limit + 1).await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|p| {
            cursor::encode(
                &state.cursor_key[..],
                &Position {
                    created_at: p.created_at.millis(),
                    id: p.id.clone(),
                },
            )
        })
    } else {
        None
    };
    let mut payouts = Vec::with_capacity(rows.len());
    for p in rows {
        payouts.push(full_view(state, p).await?);
    }
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
    state
        .db
        .get_payout(id)
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
    /// Approved and in a payout not yet paid.
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
    let balances = state
        .db
        .partner_balances(&id)
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

// ---- the manual rail ----

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportQuery {
    /// Default `pending` (what is owed on the manual rail).
    status: Option<String>,
}

/// Quotes a CSV cell (RFC 4180) and defuses formulas (a leading `=`, `+`, `-` or `@`).
fn csv_cell(v: &str) -> String {
    let v = if v.starts_with(['=', '+', '-', '@']) {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

/// Payouts as CSV for PayPal mass pay or a Wise batch: `payout_id,partner_id,email,name,
/// amount,currency,method`, streamed with a header row (admin).
#[utoipa::path(get, path = "/payouts/export.csv", tag = "payouts", security(("bearer" = [])),
    params(ExportQuery),
    responses((status = 200, description = "CSV", content_type = "text/csv"),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn export_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let status = parse_status(Some(q.status.as_deref().unwrap_or("pending")))?;
    let stream = async_stream_pages(state, status);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"payouts.csv\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// The CSV, page by page (500 rows per database read): memory stays bounded.
fn async_stream_pages(
    state: AppState,
    status: Option<PayoutStatus>,
) -> impl futures_core::Stream<Item = Result<String, std::io::Error>> {
    futures_util::stream::unfold(
        (Some(None::<(i64, String)>), true),
        move |(after, first)| {
            let state = state.clone();
            async move {
                let after = after?;
                let mut out = String::new();
                if first {
                    out.push_str("payout_id,partner_id,email,name,amount,currency,method\r\n");
                }
                let rows = match state.db.export_payouts(status, after, 500).await {
                    Ok(rows) => rows,
                    Err(e) => return Some((Err(std::io::Error::other(e)), (None, false))),
                };
                let next = (rows.len() == 500).then(|| {
                    rows.last()
                        .map(|r| (r.payout.created_at.millis(), r.payout.id.clone()))
                });
                for r in &rows {
                    let p = &r.payout;
                    let c = Currency::parse(&p.currency).unwrap_or_else(|_| Currency::usd());
                    let cells = [
                        p.id.as_str(),
                        p.partner_id.as_str(),
                        r.email.as_str(),
                        r.name.as_str(),
                        &c.format_minor(p.amount_minor),
                        p.currency.as_str(),
                        p.method.as_str(),
                    ];
                    out.push_str(
                        &cells
                            .iter()
                            .map(|v| csv_cell(v))
                            .collect::<Vec<_>>()
                            .join(","),
                    );
                    out.push_str("\r\n");
                }
                let state_next = match next {
                    Some(Some(pos)) => Some(Some(pos)),
                    _ => None,
                };
                Some((Ok(out), (state_next, false)))
            }
        },
    )
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkPaidBody {
    /// The brand's reference (e.g. the PayPal batch id), up to 200 characters.
    reference: Option<String>,
}

/// Mark a manual payout paid (admin); 409 for a Stripe payout or one not pending.
#[utoipa::path(post, path = "/payouts/{id}/mark-paid", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Option<MarkPaidBody>),
    responses((status = 200, body = PayoutView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_manual`, `invalid_transition`", body = ErrorBody)))]
async fn mark_paid(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<MarkPaidBody>,
) -> ApiResult<Json<PayoutView>> {
    auth.require_admin()?;
    let reference = body
        .reference
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reference.as_ref().is_some_and(|r| r.chars().count() > 200) {
        return Err(ApiError::invalid_field(
            "reference",
            "at most 200 characters",
        ));
    }
    let p = existing(&state, &id).await?;
    if p.method != PayoutMethod::Manual {
        return Err(ApiError::conflict(
            "not_manual",
            "Only a manual payout is marked paid; Stripe payouts are paid by their transfer.",
        ));
    }
    if !svc::mark_paid(&state, &id, None, reference.as_deref()).await? {
        return Err(transition_conflict(&p, "paid"));
    }
    let p = existing(&state, &id).await?;
    Ok(Json(full_view(&state, p).await?))
}

fn transition_conflict(p: &Payout, to: &str) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!("A payout that is {} cannot become {to}.", p.status.as_str()),
    )
}

/// Cancel a pending or failed payout (admin); its commissions are free for the next run.
#[utoipa::path(post, path = "/payouts/{id}/cancel", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PayoutView),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition`", body = ErrorBody)))]
async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PayoutView>> {
    auth.require_admin()?;
    let p = existing(&state, &id).await?;
    if !svc::cancel(&state, &id).await? {
        return Err(transition_conflict(&p, "canceled"));
    }
    let p = existing(&state, &id).await?;
    Ok(Json(full_view(&state, p).await?))
}

/// Retry a failed Stripe payout (admin).
#[utoipa::path(post, path = "/payouts/{id}/retry", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PayoutView),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`invalid_transition` (not a failed Stripe payout, or its commissions went into another payout)", body = ErrorBody)))]
async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PayoutView>> {
    auth.require_admin()?;
    let p = existing(&state, &id).await?;
    if !svc::retry(&state, &p).await? {
        return Err(transition_conflict(&p, "processing"));
    }
    let p = existing(&state, &id).await?;
    Ok(Json(full_view(&state, p).await?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(super::csv_cell("plain"), "plain");
        assert_eq!(super::csv_cell("a,b"), "\"a,b\"");
        assert_eq!(super::csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(super::csv_cell("=1+1"), "'=1+1");
        assert_eq!(super::csv_cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
