//! The streamed CSV exports: partners, commissions and conversions (admin).

use axum::extract::State;
use axum::response::Response;
use serde::Deserialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::{download, record};
use crate::db;
use crate::domain::commission::CommissionStatus;
use crate::domain::money::Currency;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiQuery;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(partners_csv))
        .routes(routes!(commissions_csv))
        .routes(routes!(conversions_csv))
}

/// Rows per database read while streaming.
const PAGE: i64 = 500;

fn time(ms: i64) -> String {
    Timestamp::from_millis(ms).to_rfc3339()
}

fn amount(minor: i64, currency: &str) -> String {
    Currency::parse(currency).map_or_else(|_| minor.to_string(), |c| c.format_minor(minor))
}

fn parse_since(raw: Option<&str>) -> ApiResult<i64> {
    match raw.filter(|s| !s.is_empty()) {
        None => Ok(0),
        Some(s) => Timestamp::parse_rfc3339(s)
            .map(Timestamp::millis)
            .ok_or_else(|| ApiError::invalid_query("since must be an RFC 3339 timestamp")),
    }
}

/// Every partner: `id,email,name,program_ids,source,created_at,activated_at,revoked_at,
/// revoke_reason` (admin), newest first.
#[utoipa::path(get, path = "/export/partners.csv", tag = "export", security(("bearer" = [])),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv"),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn partners_csv(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    auth.require_admin()?;
    let header = [
        "id",
        "email",
        "name",
        "program_ids",
        "source",
        "created_at",
        "activated_at",
        "revoked_at",
        "revoke_reason",
    ];
    Ok(download(
        "partners.csv",
        &header,
        move |after: Option<(i64, String)>| {
            let state = state.clone();
            async move {
                let after_ref = after.as_ref().map(|(a, id)| (*a, id.as_str()));
                let rows =
                    db::partners::list(state.db.pool(), after_ref, &Default::default(), PAGE)
                        .await?;
                let mut out = String::new();
                for p in &rows {
                    let programs = p
                        .program_ids
                        .iter()
                        .map(|id| id.as_str())
                        .collect::<Vec<_>>()
                        .join(";");
                    out.push_str(&record(&[
                        p.id.as_str(),
                        &p.email,
                        &p.name,
                        &programs,
                        p.source.as_str(),
                        &p.created_at.to_rfc3339(),
                        &p.activated_at
                            .map(Timestamp::to_rfc3339)
                            .unwrap_or_default(),
                        &p.revoked_at.map(Timestamp::to_rfc3339).unwrap_or_default(),
                        p.revoke_reason.as_deref().unwrap_or_default(),
                    ]));
                }
                let next = (rows.len() as i64 == PAGE)
                    .then(|| {
                        rows.last()
                            .map(|p| (p.created_at.millis(), p.id.to_string()))
                    })
                    .flatten();
                Ok((out, next))
            }
        },
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CommissionsCsvQuery {
    /// `accrued`, `approved`, `paid` or `reversed`.
    status: Option<String>,
    /// RFC 3339: commissions accrued at or after this time.
    since: Option<String>,
}

/// Commissions, oldest first: `id,partner_id,partner_email,program_id,event_id,amount,
/// currency,status,accrued_at,approved_at,paid_at` (admin). Amounts are decimal in the
/// commission's own currency; never summed across currencies.
#[utoipa::path(get, path = "/export/commissions.csv", tag = "export", security(("bearer" = [])),
    params(CommissionsCsvQuery),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv"),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn commissions_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<CommissionsCsvQuery>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let since = parse_since(q.since.as_deref())?;
    let status = match q
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(CommissionStatus::parse)
    {
        None => None,
        Some(Some(s)) if s != CommissionStatus::OnHold => Some(s),
        Some(_) => {
            return Err(ApiError::invalid_query(
                "status must be accrued, approved, paid or reversed",
            ));
        }
    };
    let header = [
        "id",
        "partner_id",
        "partner_email",
        "program_id",
        "event_id",
        "amount",
        "currency",
        "status",
        "accrued_at",
        "approved_at",
        "paid_at",
    ];
    Ok(download(
        "commissions.csv",
        &header,
        move |after: Option<(i64, String)>| {
            let state = state.clone();
            async move {
                let rows =
                    db::exports::commissions(state.db.pool(), status, since, after.as_ref(), PAGE)
                        .await?;
                let mut out = String::new();
                for c in &rows {
                    out.push_str(&record(&[
                        c.id.as_str(),
                        &c.partner_id,
                        c.email.as_deref().unwrap_or_default(),
                        &c.program_id,
                        &c.event_id,
                        &amount(c.amount_minor, &c.currency),
                        &c.currency,
                        c.status.as_str(),
                        &time(c.accrued_at),
                        &c.approved_at.map(time).unwrap_or_default(),
                        &c.paid_at.map(time).unwrap_or_default(),
                    ]));
                }
                let next = (rows.len() as i64 == PAGE)
                    .then(|| rows.last().map(|c| (c.accrued_at, c.id.clone())))
                    .flatten();
                Ok((out, next))
            }
        },
    ))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ConversionsCsvQuery {
    /// RFC 3339: conversions at or after this time.
    since: Option<String>,
}

/// Conversions (events), oldest first: `id,external_event_id,type,value,currency,ts,
/// partner_id,program_id,click_id,user_id,attributed` (admin).
#[utoipa::path(get, path = "/export/conversions.csv", tag = "export", security(("bearer" = [])),
    params(ConversionsCsvQuery),
    responses((status = 200, description = "CSV with a header row", content_type = "text/csv"),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn conversions_csv(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ConversionsCsvQuery>,
) -> ApiResult<Response> {
    auth.require_admin()?;
    let since = parse_since(q.since.as_deref())?;
    let header = [
        "id",
        "external_event_id",
        "type",
        "value",
        "currency",
        "ts",
        "partner_id",
        "program_id",
        "click_id",
        "user_id",
        "attributed",
    ];
    Ok(download(
        "conversions.csv",
        &header,
        move |after: Option<(i64, String)>| {
            let state = state.clone();
            async move {
                let rows =
                    db::exports::conversions(state.db.pool(), since, after.as_ref(), PAGE).await?;
                let mut out = String::new();
                for e in &rows {
                    out.push_str(&record(&[
                        e.id.as_str(),
                        &e.external_event_id,
                        &e.kind,
                        &amount(e.value_minor, &e.currency),
                        &e.currency,
                        &time(e.ts),
                        e.partner_id.as_deref().unwrap_or_default(),
                        e.program_id.as_deref().unwrap_or_default(),
                        e.click_id.as_deref().unwrap_or_default(),
                        e.user_id.as_deref().unwrap_or_default(),
                        if e.attributed { "true" } else { "false" },
                    ]));
                }
                let next = (rows.len() as i64 == PAGE)
                    .then(|| rows.last().map(|e| (e.ts, e.id.clone())))
                    .flatten();
                Ok((out, next))
            }
        },
    ))
}
