//! `GET /stats/overview`: the console's home figures for a period: totals, commissions by
//! status, what payouts are due, and the top partners and links by revenue. Money stays per
//! currency.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::stats::{DayFigure, TopRow};
use crate::domain::ids::{LinkId, PartnerId};
use crate::domain::money::Currency;
use crate::domain::series::DAY_MS;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiQuery;
use crate::http::timeseries::{format_money, parse_time};
use crate::state::AppState;

/// How many partners and links the top lists hold.
const TOP: i64 = 10;
/// The longest period one overview covers.
const MAX_DAYS: i64 = 400;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(overview))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OverviewQuery {
    /// RFC 3339; default 30 days before `until`. Widened to the UTC day holding it.
    since: Option<String>,
    /// RFC 3339, exclusive; default now. Widened to the end of its UTC day.
    until: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TopEntry {
    /// The partner's id (top partners) or the link's id (top links).
    id: String,
    /// The partner's name.
    name: String,
    /// The link's key (top links only).
    #[serde(skip_serializing_if = "Option::is_none")]
    link_key: Option<String>,
    /// The link's partner (top links only).
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_id: Option<String>,
    currency: String,
    conversions: i64,
    /// Attributed revenue, a decimal string in major units.
    revenue: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
    since: Timestamp,
    until: Timestamp,
    brand_name: String,
    clicks: i64,
    conversions: i64,
    /// Attributed revenue per currency.
    revenue: BTreeMap<String, String>,
    /// Commissions accrued in the period, per status then currency.
    commissions: BTreeMap<String, BTreeMap<String, String>>,
    /// Approved and in no payout yet (whatever the period), per currency.
    payouts_due: BTreeMap<String, String>,
    top_partners: Vec<TopEntry>,
    top_links: Vec<TopEntry>,
}

fn money(currency: &str, minor: i64) -> String {
    Currency::parse(currency)
        .unwrap_or_else(|_| Currency::usd())
        .format_minor(minor)
}

/// The program's figures for a period (admin).
#[utoipa::path(get, path = "/stats/overview", tag = "stats", security(("bearer" = [])),
    params(OverviewQuery),
    responses((status = 200, body = Overview),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn overview(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<OverviewQuery>,
) -> ApiResult<Json<Overview>> {
    auth.require_admin()?;
    let until = parse_time("until", q.until.as_deref())?.unwrap_or_else(|| state.clock.now());
    let since = parse_time("since", q.since.as_deref())?.unwrap_or_else(|| until.plus_days(-30));
    if since >= until || since.millis() < 0 {
        return Err(ApiError::invalid_query(
            "since must be before until, and after 1970",
        ));
    }
    let since = Timestamp::from_millis(since.millis().div_euclid(DAY_MS) * DAY_MS);
    let until = Timestamp::from_millis((until.millis() - 1).div_euclid(DAY_MS) * DAY_MS + DAY_MS);
    if until.millis() - since.millis() > MAX_DAYS * DAY_MS {
        return Err(ApiError::invalid_query(format!(
            "an overview covers at most {MAX_DAYS} days"
        )));
    }
    state.clicks.flush().await;
    let (mut clicks, mut conversions) = (0, 0);
    let mut revenue: BTreeMap<String, i64> = BTreeMap::new();
    for figure in db::stats::daily_figures(&state.db, None, since, until).await? {
        match figure {
            DayFigure::Clicks { clicks: n, .. } => clicks += n,
            DayFigure::Conversions {
                currency,
                count,
                revenue_minor,
                ..
            } => {
                conversions += count;
                *revenue.entry(currency).or_default() += revenue_minor;
            }
            DayFigure::Commission { .. } => {}
        }
    }
    let mut commissions: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for (status, currency, minor) in
        db::stats::commissions_by_status(state.db.pool(), since, until).await?
    {
        let amount = money(&currency, minor);
        commissions
            .entry(status)
            .or_default()
            .insert(currency, amount);
    }
    let payouts_due = db::stats::payouts_due(state.db.pool())
        .await?
        .into_iter()
        .map(|(c, m)| {
            let amount = money(&c, m);
            (c, amount)
        })
        .collect();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let mut name_of = async |id: &str| -> ApiResult<String> {
        if let Some(n) = names.get(id) {
            return Ok(n.clone());
        }
        let name = db::partners::get(state.db.pool(), &PartnerId::from_string(id.to_string()))
            .await?
            .map_or_else(|| id.to_string(), |p| p.name);
        names.insert(id.to_string(), name.clone());
        Ok(name)
    };
    let mut top_partners = Vec::new();
    for TopRow {
        id,
        currency,
        conversions,
        revenue_minor,
    } in db::stats::top_partners(state.db.pool(), since, until, TOP).await?
    {
        top_partners.push(TopEntry {
            name: name_of(&id).await?,
            id,
            link_key: None,
            partner_id: None,
            revenue: money(&currency, revenue_minor),
            currency,
            conversions,
        });
    }
    let mut top_links = Vec::new();
    for row in db::stats::top_links(state.db.pool(), since, until, TOP).await? {
        let link_id = LinkId::from_string(row.id.as_str());
        let Some(link) = db::links::get(state.db.pool(), &link_id).await? else {
            continue;
        };
        top_links.push(TopEntry {
            name: name_of(link.partner_id.as_str()).await?,
            id: row.id,
            link_key: Some(link.link_key),
            partner_id: Some(link.partner_id.to_string()),
            revenue: money(&row.currency, row.revenue_minor),
            currency: row.currency,
            conversions: row.conversions,
        });
    }
    Ok(Json(Overview {
        since,
        until,
        brand_name: db::settings::brand_name(state.db.pool(), &state.config.brand_name).await?,
        clicks,
        conversions,
        revenue: format_money(&revenue),
        commissions,
        payouts_due,
        top_partners,
        top_links,
    }))
}
