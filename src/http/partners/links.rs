//! `/partners/:id/links`: program-scoped share links.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::ids::{LinkId, PartnerId};
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath};
use crate::http::timeseries::format_money;
use crate::service::links::{self as svc, NewLink};
use crate::service::partners as partners_svc;
use crate::state::AppState;
pub use crate::views::LinkView;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(create_link, list_links))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreateLinkBody {
    /// 3–64 of `[A-Za-z0-9_-]`, unique.
    link_key: Option<String>,
    program_id: Option<String>,
    /// Older name of `programId`.
    campaign_id: Option<String>,
    /// Optional override: the program's host or a subdomain of it.
    destination_url: Option<String>,
}

/// A link with its figures since it was made.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkWithFigures {
    #[serde(flatten)]
    link: LinkView,
    clicks: i64,
    /// Attributed conversions, in every currency.
    conversions: i64,
    /// Attributed revenue per currency, decimal strings in major units (`{"USD": "120.00"}`);
    /// currencies are never added together.
    revenue: BTreeMap<String, String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LinkList {
    links: Vec<LinkWithFigures>,
}

/// Create a share link: admin, `links:write`, or the partner itself (granted programs only).
#[utoipa::path(post, path = "/partners/{id}/links", tag = "links", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = CreateLinkBody,
    responses((status = 201, body = LinkView),
        (status = 400, description = "`invalid_body`, `destination_override_not_allowed`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `links:write`), `campaign_not_granted`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`linkKey_taken`, `partner_revoked`", body = ErrorBody)))]
async fn create_link(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<CreateLinkBody>,
) -> ApiResult<(StatusCode, Json<LinkView>)> {
    let partner = PartnerId::from_string(id);
    auth.require_partner_access(&partner, Scope::LinksWrite)?;
    let mut errors = Vec::new();
    if body.link_key.is_none() {
        errors.push(("linkKey".to_string(), "is required".to_string()));
    }
    let program = match (body.program_id, body.campaign_id) {
        (Some(p), Some(c)) if p != c => {
            errors.push((
                "programId".into(),
                "differs from campaignId; send one of them".into(),
            ));
            None
        }
        (p, c) => p.or(c),
    };
    if program.is_none() && errors.is_empty() {
        errors.push(("programId".into(), "is required".into()));
    }
    let (Some(key), Some(program), true) = (body.link_key, program, errors.is_empty()) else {
        return Err(ApiError::invalid_body(errors));
    };
    let link = svc::create(
        &state,
        NewLink {
            as_partner: auth.0.partner_id().is_some(),
            partner,
            key,
            program,
            destination_url: body.destination_url,
        },
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(LinkView::new(link, &state.config.public_url)),
    ))
}

/// List a partner's links with their clicks, conversions and revenue: admin, `links:read`, or
/// the partner itself.
#[utoipa::path(get, path = "/partners/{id}/links", tag = "links", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = LinkList),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `links:read`)", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn list_links(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<LinkList>> {
    let partner = PartnerId::from_string(id);
    auth.require_partner_access(&partner, Scope::LinksRead)?;
    partners_svc::get_existing(&state, &partner).await?;
    let links = db::links::list_for_partner(state.db.pool(), &partner).await?;
    state.clicks.flush().await;
    // Two grouped queries for every link, whatever their number.
    let clicks: HashMap<LinkId, i64> =
        db::clicks::by_link(state.db.pool(), &partner, Timestamp::from_millis(0))
            .await?
            .into_iter()
            .collect();
    let mut sales: HashMap<LinkId, (i64, BTreeMap<String, i64>)> = HashMap::new();
    for row in db::stats::link_conversions(state.db.pool(), &partner).await? {
        let entry = sales.entry(LinkId::from_string(row.id)).or_default();
        entry.0 += row.conversions;
        entry.1.insert(row.currency, row.revenue_minor);
    }
    let links = links
        .into_iter()
        .map(|l| {
            let (conversions, revenue) = sales.remove(&l.id).unwrap_or_default();
            LinkWithFigures {
                clicks: clicks.get(&l.id).copied().unwrap_or(0),
                conversions,
                revenue: format_money(&revenue),
                link: LinkView::new(l, &state.config.public_url),
            }
        })
        .collect();
    Ok(Json(LinkList { links }))
}
