//! Time series: clicks, conversions, revenue and commission per day, week or month, for one
//! partner (`/partners/:id/timeseries`) or the whole program (`/stats/timeseries`). Money stays
//! per currency (never summed across currencies), as decimal strings in major units.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::stats::DayFigure;
use crate::domain::ids::PartnerId;
use crate::domain::money::Currency;
use crate::domain::scopes::Scope;
use crate::domain::series::{Interval, bucket_of, bucket_starts};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, ApiQuery};
use crate::service::partners as partners_svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(partner_series))
        .routes(routes!(program_series))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// RFC 3339; default 30 days before `until`. The first bucket is the one holding it.
    since: Option<String>,
    /// RFC 3339, exclusive; default now.
    until: Option<String>,
    /// `day` (default; at most 400 buckets), `week` (from Monday; 260) or `month` (120). UTC.
    interval: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bucket {
    /// The bucket's first instant (UTC midnight).
    start: Timestamp,
    clicks: i64,
    /// Attributed conversion events.
    conversions: i64,
    /// Attributed revenue per currency, decimal strings in major units (`{"USD": "120.00"}`).
    revenue: BTreeMap<String, String>,
    /// Commissions accrued in the bucket (not reversed), per currency.
    commission: BTreeMap<String, String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Series {
    interval: &'static str,
    since: Timestamp,
    until: Timestamp,
    buckets: Vec<Bucket>,
}

pub(crate) fn parse_time(field: &str, value: Option<&str>) -> ApiResult<Option<Timestamp>> {
    match value.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => Timestamp::parse_rfc3339(s).map(Some).ok_or_else(|| {
            ApiError::invalid_query(format!("{field} must be an RFC 3339 timestamp"))
        }),
    }
}

async fn series(
    state: &AppState,
    partner: Option<&PartnerId>,
    q: SeriesQuery,
) -> ApiResult<Series> {
    let interval = match q.interval.as_deref().filter(|s| !s.is_empty()) {
        None => Interval::Day,
        Some(s) => Interval::parse(s)
            .ok_or_else(|| ApiError::invalid_query("interval must be day, week or month"))?,
    };
    let until = parse_time("until", q.until.as_deref())?.unwrap_or_else(|| state.clock.now());
    let since = parse_time("since", q.since.as_deref())?.unwrap_or_else(|| until.plus_days(-30));
    let starts = bucket_starts(since, until, interval).map_err(ApiError::invalid_query)?;
    let (Some(first), Some(last)) = (starts.first().copied(), starts.last().copied()) else {
        return Err(ApiError::invalid_query("the range holds no bucket"));
    };
    let end = match interval {
        Interval::Day => last.plus_days(1),
        Interval::Week => last.plus_days(7),
        Interval::Month => last.plus_months(1),
    };
    // Clicks still in the buffer count too.
    state.clicks.flush().await;
    let rows = db::stats::daily_figures(&state.db, partner, first, end).await?;
    let mut buckets: Vec<Bucket> = starts
        .iter()
        .map(|s| Bucket {
            start: *s,
            clicks: 0,
            conversions: 0,
            revenue: BTreeMap::new(),
            commission: BTreeMap::new(),
        })
        .collect();
    let mut revenue: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); starts.len()];
    let mut commission: Vec<BTreeMap<String, i64>> = vec![BTreeMap::new(); starts.len()];
    for figure in rows {
        match figure {
            DayFigure::Clicks { day, clicks } => {
                if let Some(i) = bucket_of(&starts, day) {
                    buckets[i].clicks += clicks;
                }
            }
            DayFigure::Conversions {
                day,
                currency,
                count,
                revenue_minor,
            } => {
                if let Some(i) = bucket_of(&starts, day) {
                    buckets[i].conversions += count;
                    *revenue[i].entry(currency).or_default() += revenue_minor;
                }
            }
            DayFigure::Commission {
                day,
                currency,
                amount_minor,
            } => {
                if let Some(i) = bucket_of(&starts, day) {
                    *commission[i].entry(currency).or_default() += amount_minor;
                }
            }
        }
    }
    for (i, b) in buckets.iter_mut().enumerate() {
        b.revenue = format_money(&revenue[i]);
        b.commission = format_money(&commission[i]);
    }
    Ok(Series {
        interval: interval.as_str(),
        since: first,
        until: end,
        buckets,
    })
}

pub(crate) fn format_money(amounts: &BTreeMap<String, i64>) -> BTreeMap<String, String> {
    amounts
        .iter()
        .map(|(code, minor)| {
            let c = Currency::parse(code).unwrap_or_else(|_| Currency::usd());
            (code.clone(), c.format_minor(*minor))
        })
        .collect()
}

/// A partner's time series: admin, `partners:read`, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}/timeseries", tag = "stats", security(("bearer" = [])),
    params(("id" = String, Path), SeriesQuery),
    responses((status = 200, body = Series),
        (status = 400, description = "`invalid_query`: bad time, interval, or too many buckets", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn partner_series(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> ApiResult<Json<Series>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::PartnersRead)?;
    partners_svc::get_existing(&state, &id).await?;
    Ok(Json(series(&state, Some(&id), q).await?))
}

/// The whole program's time series (admin).
#[utoipa::path(get, path = "/stats/timeseries", tag = "stats", security(("bearer" = [])),
    params(SeriesQuery),
    responses((status = 200, body = Series),
        (status = 400, description = "`invalid_query`: bad time, interval, or too many buckets", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn program_series(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> ApiResult<Json<Series>> {
    auth.require_admin()?;
    Ok(Json(series(&state, None, q).await?))
}
