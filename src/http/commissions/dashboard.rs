//! The partner dashboard: clicks, attributed events and commissions per currency, and links.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use crate::db;
use crate::domain::commission::CommissionStatus as Status;
use crate::domain::ids::{LinkId, PartnerId};
use crate::domain::money::{Currency, ExactNumber};
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, ApiQuery};
use crate::service::partners as partners_svc;
use crate::state::AppState;

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
pub(super) async fn dashboard(
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
    // Clicks per link; the partner's total is their sum (the same rows).
    let per_link: HashMap<LinkId, i64> = db::clicks::by_link(state.db.pool(), &id, since)
        .await?
        .into_iter()
        .collect();
    let clicks = per_link.values().sum();
    let (events, revenue) = db::events::attributed_totals(state.db.pool(), &id, since).await?;
    let commissions = db::commissions::totals(state.db.pool(), &id, since).await?;
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
    let links = db::links::list_for_partner(state.db.pool(), &id)
        .await?
        .into_iter()
        .map(|l| DashboardLink {
            clicks: per_link.get(&l.id).copied().unwrap_or(0),
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
