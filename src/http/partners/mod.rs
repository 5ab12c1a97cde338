//! `/partners`: create, list (keyset pages), get and patch partners.

pub mod keys;
pub mod lifecycle;
pub mod links;
pub mod snapshot;

mod create;
mod fields;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use self::fields::{metadata_object, program_list};
use crate::db;
use crate::db::partners::{PartnerChanges, PartnerFilter, PartnerStatus};
use crate::domain::cursor::Position;
use crate::domain::ids::PartnerId;
use crate::domain::scopes::Scope;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::http::paging;
use crate::service::partners as svc;
use crate::state::AppState;

pub use crate::views::PartnerView;
pub use fields::{SnapshotBody, clean_email, clean_name};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create::create_partner, list_partners))
        .routes(routes!(get_partner, update_partner))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Exact match, case-insensitive.
    email: Option<String>,
    /// `invited`, `active`, `pending_review` or `revoked`.
    status: Option<String>,
    /// Partners granted this program.
    #[serde(rename = "programId")]
    program_id: Option<String>,
    /// 1–200, default 100.
    limit: Option<String>,
    /// Opaque, from a previous `nextCursor`.
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerList {
    partners: Vec<PartnerView>,
    /// Null on the last page.
    next_cursor: Option<String>,
}

/// Parses `limit` (1..=max, default `default`).
pub fn parse_limit(raw: Option<&str>, default: i64, max: i64) -> ApiResult<i64> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_query(format!(
                "limit must be a whole number from 1 to {max}"
            ))),
        },
    }
}

/// List partners, newest first, with keyset pagination.
#[utoipa::path(get, path = "/partners", tag = "partners", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = PartnerList),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:read`), `forbidden`", body = ErrorBody)))]
async fn list_partners(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<PartnerList>> {
    auth.require_scope(Scope::PartnersRead)?;
    let limit = parse_limit(q.limit.as_deref(), 100, 200)?;
    let after = paging::after(&state, q.cursor.as_deref())?;
    let email = q.email.map(|e| e.trim().to_lowercase());
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(PartnerStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_query("status must be invited, active, pending_review or revoked")
        })?),
    };
    let program = q.program_id.filter(|p| !p.is_empty());
    if program.as_deref().is_some_and(|p| {
        p.len() > 100
            || !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(ApiError::invalid_query("programId is not a program id"));
    }
    let filter = PartnerFilter {
        email: email.as_deref(),
        status,
        program: program.as_deref(),
    };
    // One extra row tells whether there is a next page.
    let mut page = db::partners::list(
        state.db.pool(),
        after.as_ref().map(|p| (p.created_at, p.id.as_str())),
        &filter,
        limit + 1,
    )
    .await?;
    let next_cursor = paging::next_cursor(&state, &mut page, limit, |p| Position {
        created_at: p.created_at.millis(),
        id: p.id.to_string(),
    });
    Ok(Json(PartnerList {
        partners: page.into_iter().map(PartnerView::from).collect(),
        next_cursor,
    }))
}

/// Get a partner: admin, `partners:read`, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PartnerView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found` (also for another partner's id)", body = ErrorBody)))]
async fn get_partner(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PartnerView>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::PartnersRead)?;
    Ok(Json(svc::get_existing(&state, &id).await?.into()))
}

fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchPartnerBody {
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// A string, or null to clear.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    stripe_connect_account_id: Option<Option<String>>,
    program_ids: Option<Vec<String>>,
    campaign_ids: Option<Vec<String>>,
}

/// Update a partner's name, metadata, Stripe account or programs.
#[utoipa::path(patch, path = "/partners/{id}", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = PatchPartnerBody,
    responses((status = 200, body = PartnerView),
        (status = 400, description = "`invalid_body`, `unknown_campaign_ids`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:write`), `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn update_partner(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchPartnerBody>,
) -> ApiResult<Json<PartnerView>> {
    auth.require_scope(Scope::PartnersWrite)?;
    let id = PartnerId::from_string(id);
    let mut errors = Vec::new();
    let name = body.name.map(|n| clean_name(Some(n), &mut errors));
    let metadata = match body.metadata {
        None => None,
        Some(v) => metadata_object(Some(v), &mut errors).map(|m| Value::Object(m).to_string()),
    };
    // Where payouts go: only an admin may set it (the federation key holds partners:write).
    if body.stripe_connect_account_id.is_some() {
        auth.require_admin()
            .map_err(|_| ApiError::forbidden("Only an admin may set stripeConnectAccountId."))?;
    }
    let stripe = body.stripe_connect_account_id.map(|s| {
        let s = s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if s.as_ref().is_some_and(|s| s.len() > 255) {
            errors.push((
                "stripeConnectAccountId".into(),
                "must be at most 255 characters".into(),
            ));
        }
        s
    });
    let programs = program_list(body.campaign_ids, body.program_ids, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let program_ids = match programs {
        Some(list) => Some(svc::resolve_programs(&state.db, Some(list)).await?),
        None => None,
    };
    let changes = PartnerChanges {
        name,
        metadata,
        stripe_connect_account_id: stripe,
        program_ids,
    };
    if !db::partners::update(&state.db, &id, &changes, state.clock.now()).await? {
        return Err(ApiError::not_found("No such partner."));
    }
    Ok(Json(svc::get_existing(&state, &id).await?.into()))
}
