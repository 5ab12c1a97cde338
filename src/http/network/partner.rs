//! The Network marketplace from a partner's side (`/network/…`): discover offerings, apply,
//! see affiliations, earnings and requests, edit the creator profile. Each route calls the
//! Network with the vendor token and `x-act-as-vendor-partner: <the caller's partner id>`;
//! the id always comes from the caller's credential, so no client can act for another partner.
//! Answers and errors follow the admin marketplace proxy (`marketplace.rs`).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath, MaybeJson};
use crate::http::me::partner_only;
use crate::http::network::marketplace::{audit, network_id, proxy_as};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(network_discover))
        .routes(routes!(network_offering))
        .routes(routes!(network_vendor))
        .routes(routes!(network_apply))
        .routes(routes!(network_affiliations))
        .routes(routes!(network_earnings))
        .routes(routes!(network_requests))
        .routes(routes!(network_cancel))
        .routes(routes!(network_profile, network_update_profile))
}

/// The Network's JSON object, passed on as it came.
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
pub struct NetworkObject {
    #[serde(flatten)]
    fields: Map<String, Value>,
}

type Answer = ApiResult<(StatusCode, Json<NetworkObject>)>;

async fn act(
    state: &AppState,
    auth: &Auth,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Answer {
    let me = partner_only(auth)?;
    proxy_as(state, method, path, Some(me.as_str()), body).await
}

/// A write the partner made on the Network, done: recorded in the audit log (the partner is
/// the actor) with what was sent.
async fn act_audited(
    state: &AppState,
    auth: &Auth,
    (method, path): (Method, &str),
    body: Value,
    (action, target_type, target_id): (&str, &str, &str),
) -> Answer {
    let answer = act(state, auth, method, path, Some(body.clone())).await?;
    audit(state, action, target_type, target_id, &body).await?;
    Ok(answer)
}

/// Documents the query; the handler passes only these keys on.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DiscoverQuery {
    /// Words to search offerings for (at most 200 characters).
    q: Option<String>,
    /// How to order them, as the Network names it (e.g. `newest`, `popular`).
    sort: Option<String>,
}

const NOT_PARTNER: &str = "`partner_only`: the caller is not a partner";
const UNAVAILABLE: &str = "`network_not_configured`, `network_unreachable`";

/// Only `q` and `sort` are passed on, re-encoded.
fn discover_query(raw: &str) -> ApiResult<String> {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(raw.as_bytes()) {
        match k.as_ref() {
            "q" | "sort" if v.chars().count() > 200 || v.contains('\0') => {
                return Err(ApiError::invalid_query(format!(
                    "{k} must be at most 200 characters, without NUL"
                )));
            }
            "q" | "sort" if !v.is_empty() => {
                out.append_pair(&k, &v);
            }
            _ => {}
        }
    }
    Ok(out.finish())
}

/// Discover offerings on the Network (→ `GET /offerings?q&sort`).
#[utoipa::path(get, path = "/network/discover", tag = "partner network", security(("bearer" = [])),
    params(DiscoverQuery),
    responses((status = 200, description = "The Network's `{offerings: [...]}`", body = NetworkObject),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 403, description = NOT_PARTNER, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_discover(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> Answer {
    partner_only(&auth)?;
    let query = discover_query(q.as_deref().unwrap_or_default())?;
    let path = if query.is_empty() {
        "/offerings".to_string()
    } else {
        format!("/offerings?{query}")
    };
    act(&state, &auth, Method::GET, &path, None).await
}

/// One offering (→ `GET /offerings/:id`).
#[utoipa::path(get, path = "/network/offerings/{id}", tag = "partner network", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The offering", body = NetworkObject),
        (status = 403, description = NOT_PARTNER, body = ErrorBody),
        (status = 404, description = "`not_found`, `network_call_failed`", body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_offering(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Answer {
    partner_only(&auth)?;
    let id = network_id(&id)?;
    act(
        &state,
        &auth,
        Method::GET,
        &format!("/offerings/{id}"),
        None,
    )
    .await
}

/// A vendor (brand) on the Network (→ `GET /vendors/:id`).
#[utoipa::path(get, path = "/network/vendors/{id}", tag = "partner network", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The vendor", body = NetworkObject),
        (status = 403, description = NOT_PARTNER, body = ErrorBody),
        (status = 404, description = "`not_found`, `network_call_failed`", body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_vendor(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Answer {
    partner_only(&auth)?;
    let id = network_id(&id)?;
    act(&state, &auth, Method::GET, &format!("/vendors/{id}"), None).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Apply {
    /// A note to the brand (at most 2000 characters).
    message: Option<String>,
    /// The link key the creator would like (at most 100 characters).
    preferred_slug: Option<String>,
}

fn bounded(field: &str, value: Option<String>, max: usize) -> ApiResult<Option<String>> {
    match value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
    {
        Some(v) if v.chars().count() > max || v.contains('\0') => Err(ApiError::invalid_field(
            field,
            format!("must be at most {max} characters, without NUL"),
        )),
        other => Ok(other),
    }
}

/// Apply to an offering (→ `POST /offerings/:id/apply`).
#[utoipa::path(post, path = "/network/offerings/{id}/apply", tag = "partner network", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Apply, description = "Optional"),
    responses((status = 201, description = "The request", body = NetworkObject),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`partner_only`; `csrf_failed`", body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_apply(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<Apply>,
) -> Answer {
    partner_only(&auth)?;
    let id = network_id(&id)?;
    let payload = json!({
        "message": bounded("message", body.message, 2000)?,
        "preferredSlug": bounded("preferredSlug", body.preferred_slug, 100)?,
    });
    let (_, answer) = act_audited(
        &state,
        &auth,
        (Method::POST, &format!("/offerings/{id}/apply")),
        payload,
        ("network.apply", "network_offering", id),
    )
    .await?;
    Ok((StatusCode::CREATED, answer))
}

/// My affiliations with brands on the Network (→ `GET /creators/me/affiliations`).
#[utoipa::path(get, path = "/network/me/affiliations", tag = "partner network", security(("bearer" = [])),
    responses((status = 200, description = "The Network's `{affiliations: [...]}`", body = NetworkObject),
        (status = 403, description = NOT_PARTNER, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_affiliations(State(state): State<AppState>, auth: Auth) -> Answer {
    act(
        &state,
        &auth,
        Method::GET,
        "/creators/me/affiliations",
        None,
    )
    .await
}

/// One affiliation's earnings (→ `GET /creators/me/affiliations/:id/earnings`).
#[utoipa::path(get, path = "/network/me/affiliations/{id}/earnings", tag = "partner network", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The earnings", body = NetworkObject),
        (status = 403, description = NOT_PARTNER, body = ErrorBody),
        (status = 404, description = "`not_found`, `network_call_failed`", body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_earnings(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Answer {
    partner_only(&auth)?;
    let id = network_id(&id)?;
    let path = format!("/creators/me/affiliations/{id}/earnings");
    act(&state, &auth, Method::GET, &path, None).await
}

/// My applications (→ `GET /creators/me/requests`).
#[utoipa::path(get, path = "/network/me/requests", tag = "partner network", security(("bearer" = [])),
    responses((status = 200, description = "The Network's `{requests: [...]}`", body = NetworkObject),
        (status = 403, description = NOT_PARTNER, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_requests(State(state): State<AppState>, auth: Auth) -> Answer {
    act(&state, &auth, Method::GET, "/creators/me/requests", None).await
}

/// Cancel one of my pending applications (→ `POST /creators/me/requests/:id/cancel`).
#[utoipa::path(post, path = "/network/me/requests/{id}/cancel", tag = "partner network", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, description = "The request, cancelled", body = NetworkObject),
        (status = 403, description = "`partner_only`; `csrf_failed`", body = ErrorBody),
        (status = 404, description = "`not_found`, `network_call_failed`", body = ErrorBody),
        (status = 409, description = "`network_call_failed`: not pending", body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_cancel(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> Answer {
    partner_only(&auth)?;
    let id = network_id(&id)?;
    let path = format!("/creators/me/requests/{id}/cancel");
    act_audited(
        &state,
        &auth,
        (Method::POST, &path),
        json!({}),
        ("network.request_cancel", "network_request", id),
    )
    .await
}

/// My creator profile on the Network (→ `GET /creators/me`).
#[utoipa::path(get, path = "/network/me/profile", tag = "partner network", security(("bearer" = [])),
    responses((status = 200, description = "The profile", body = NetworkObject),
        (status = 403, description = NOT_PARTNER, body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_profile(State(state): State<AppState>, auth: Auth) -> Answer {
    act(&state, &auth, Method::GET, "/creators/me", None).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileChanges {
    /// 1–100 characters.
    name: Option<String>,
    /// 1–50 characters.
    handle: Option<String>,
    /// An https URL (at most 500 characters).
    avatar_url: Option<String>,
    /// At most 1000 characters.
    bio: Option<String>,
}

/// Change my creator profile (→ `PATCH /creators/me`).
#[utoipa::path(patch, path = "/network/me/profile", tag = "partner network", security(("bearer" = [])),
    request_body = ProfileChanges,
    responses((status = 200, description = "The profile", body = NetworkObject),
        (status = 400, description = "`invalid_body`, `invalid_json`", body = ErrorBody),
        (status = 403, description = "`partner_only`; `csrf_failed`", body = ErrorBody),
        (status = 503, description = UNAVAILABLE, body = ErrorBody)))]
async fn network_update_profile(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ProfileChanges>,
) -> Answer {
    partner_only(&auth)?;
    let mut changes = Map::new();
    for (field, value, max) in [
        ("name", body.name, 100),
        ("handle", body.handle, 50),
        ("avatarUrl", body.avatar_url, 500),
        ("bio", body.bio, 1000),
    ] {
        let Some(value) = value else { continue };
        let value = value.trim().to_string();
        if value.chars().count() > max || value.contains('\0') {
            return Err(ApiError::invalid_field(
                field,
                format!("must be at most {max} characters, without NUL"),
            ));
        }
        if value.is_empty() && matches!(field, "name" | "handle") {
            return Err(ApiError::invalid_field(field, "must not be empty"));
        }
        if field == "avatarUrl"
            && !value.is_empty()
            && !url::Url::parse(&value).is_ok_and(|u| u.scheme() == "https")
        {
            return Err(ApiError::invalid_field(field, "must be an https URL"));
        }
        changes.insert(field.to_string(), Value::String(value));
    }
    let me = partner_only(&auth)?.to_string();
    act_audited(
        &state,
        &auth,
        (Method::PATCH, "/creators/me"),
        Value::Object(changes),
        ("network.profile_update", "partner", &me),
    )
    .await
}
