//! `/webhooks`: the endpoints that receive signed events (admin only). The signing secret is
//! returned once, when created or rotated, and never again.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::config::Secret;
use crate::db;
use crate::db::webhooks::{Endpoint, EndpointChanges};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath};
use crate::state::AppState;
use crate::webhooks::address::{self, UrlError};
use crate::webhooks::{EventType, signing};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_endpoint, list_endpoints))
        .routes(routes!(get_endpoint, update_endpoint, delete_endpoint))
        .routes(routes!(rotate_secret))
}

/// An instance has at most this many endpoints (every event fans out to each).
const MAX_ENDPOINTS: usize = 50;
/// After a rotation, the old secret signs beside the new one for this long.
const ROTATION_OVERLAP_MS: i64 = 24 * 3_600_000;

/// An endpoint, never with its secret.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointView {
    id: String,
    url: String,
    /// Event types it receives; `["*"]` is every type.
    events: Vec<String>,
    enabled: bool,
    description: Option<String>,
    created_at: Timestamp,
    /// Why it is disabled: `admin`, `gone` (the receiver answered 410) or `failing` (every
    /// delivery failed for 5 days). Null while enabled.
    disabled_reason: Option<String>,
}

impl From<Endpoint> for EndpointView {
    fn from(e: Endpoint) -> Self {
        EndpointView {
            id: e.id,
            url: e.url,
            events: e.events,
            enabled: e.enabled,
            description: e.description,
            created_at: e.created_at,
            disabled_reason: e.disabled_reason,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointList {
    webhooks: Vec<EndpointView>,
}

/// An endpoint just created, or whose secret was just rotated, with its secret (shown once).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointWithSecret {
    #[serde(flatten)]
    endpoint: EndpointView,
    /// `whsec_` + base64 of 24 random bytes: verify signatures with it.
    secret: String,
    /// After a rotation: until when the previous secret still signs, beside this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_secret_expires_at: Option<Timestamp>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    ok: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateEndpoint {
    /// http(s); its addresses must be public unless OPENPARTNER_WEBHOOKS_ALLOW_PRIVATE.
    url: Option<String>,
    /// Event types, or `["*"]` for every type.
    events: Option<Vec<String>>,
    /// Free text (≤ 500 characters).
    description: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpdateEndpoint {
    url: Option<String>,
    events: Option<Vec<String>>,
    /// False stops deliveries (pending ones fail); true resumes them.
    enabled: Option<bool>,
    /// Null or "" clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    description: Option<Option<String>>,
}

/// Tells a field sent as `null` (`Some(None)`) from one not sent (`None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn clean_events(events: Vec<String>, errors: &mut Vec<(String, String)>) -> Vec<String> {
    if events.is_empty() || events.len() > 50 {
        errors.push((
            "events".into(),
            "must list 1 to 50 event types, or \"*\"".into(),
        ));
        return Vec::new();
    }
    let set: BTreeSet<String> = events.into_iter().map(|e| e.trim().to_string()).collect();
    if set.contains("*") {
        return vec!["*".into()];
    }
    let unknown: Vec<&str> = set
        .iter()
        .filter(|e| EventType::parse(e).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        let known: Vec<&str> = EventType::SUBSCRIBABLE.iter().map(|t| t.as_str()).collect();
        errors.push((
            "events".into(),
            format!(
                "unknown event types: {}; known: {}, or \"*\"",
                unknown.join(", "),
                known.join(", ")
            ),
        ));
    }
    set.into_iter().collect()
}

fn clean_description(d: Option<String>, errors: &mut Vec<(String, String)>) -> Option<String> {
    let d = d.map(|d| d.trim().to_string()).filter(|d| !d.is_empty());
    if d.as_ref().is_some_and(|d| d.chars().count() > 500) {
        errors.push((
            "description".into(),
            "must be at most 500 characters".into(),
        ));
    }
    d
}

/// Validates a URL: shape errors join the field errors; a non-public address is its own 400.
async fn clean_url(
    state: &AppState,
    raw: &str,
    errors: &mut Vec<(String, String)>,
) -> ApiResult<String> {
    match address::check(raw, state.config.webhooks_allow_private).await {
        Ok(url) => Ok(url.to_string()),
        Err(UrlError::Invalid(why)) => {
            errors.push(("url".into(), why.into()));
            Ok(String::new())
        }
        Err(UrlError::NotAllowed(why)) => Err(ApiError::bad_request(
            "url_not_allowed",
            format!("Webhooks may only go to public addresses: {why}."),
        )),
    }
}

async fn existing(state: &AppState, id: &str) -> ApiResult<Endpoint> {
    db::webhooks::get_endpoint(&state.db, id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such webhook endpoint."))
}

fn encryption_key(state: &AppState) -> Option<&[u8; 32]> {
    state.config.encryption_key.as_ref().map(|k| k.expose())
}

/// Add an endpoint. Its signing secret is in this answer only.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateEndpoint,
    responses((status = 201, body = EndpointWithSecret),
        (status = 400, description = "`invalid_body` (a bad URL, unknown event types), `url_not_allowed` (a non-public address)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 409, description = "`webhook_limit_reached`", body = ErrorBody)))]
async fn create_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateEndpoint>,
) -> ApiResult<(StatusCode, Json<EndpointWithSecret>)> {
    auth.require_admin()?;
    let mut errors = Vec::new();
    let events = match body.events {
        Some(e) => clean_events(e, &mut errors),
        None => {
            errors.push(("events".into(), "is required (a list, or [\"*\"])".into()));
            Vec::new()
        }
    };
    let description = clean_description(body.description, &mut errors);
    let url = match body.url.as_deref() {
        Some(raw) => clean_url(&state, raw, &mut errors).await?,
        None => {
            errors.push(("url".into(), "is required".into()));
            String::new()
        }
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    if db::webhooks::list_endpoints(&state.db).await?.len() >= MAX_ENDPOINTS {
        return Err(ApiError::conflict(
            "webhook_limit_reached",
            format!("An instance has at most {MAX_ENDPOINTS} webhook endpoints."),
        ));
    }
    let secret = signing::new_secret();
    let now = state.clock.now();
    let endpoint = Endpoint {
        id: format!("wh_{}", ulid::Ulid::new()),
        url,
        description,
        enabled: true,
        disabled_reason: None,
        secret: Secret::new(signing::seal(encryption_key(&state), &secret)),
        previous_secret: None,
        previous_until: None,
        failing_since: None,
        events,
        created_at: now,
        updated_at: now,
    };
    db::webhooks::insert_endpoint(&state.db, &endpoint).await?;
    let endpoint = existing(&state, &endpoint.id).await?;
    Ok((
        StatusCode::CREATED,
        Json(EndpointWithSecret {
            endpoint: endpoint.into(),
            secret,
            previous_secret_expires_at: None,
        }),
    ))
}

/// List the endpoints (never a secret).
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = EndpointList),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn list_endpoints(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<EndpointList>> {
    auth.require_admin()?;
    let endpoints = db::webhooks::list_endpoints(&state.db).await?;
    Ok(Json(EndpointList {
        webhooks: endpoints.into_iter().map(EndpointView::from).collect(),
    }))
}

/// One endpoint (never its secret).
#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn get_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EndpointView>> {
    auth.require_admin()?;
    Ok(Json(existing(&state, &id).await?.into()))
}

/// Change an endpoint. Re-enabling it starts deliveries again (retry the failed ones you need).
#[utoipa::path(patch, path = "/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = UpdateEndpoint,
    responses((status = 200, body = EndpointView),
        (status = 400, description = "`invalid_body`, `url_not_allowed`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn update_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateEndpoint>,
) -> ApiResult<Json<EndpointView>> {
    auth.require_admin()?;
    existing(&state, &id).await?;
    let mut errors = Vec::new();
    let events = body.events.map(|e| clean_events(e, &mut errors));
    let description = body.description.map(|d| clean_description(d, &mut errors));
    let url = match body.url.as_deref() {
        Some(raw) => Some(clean_url(&state, raw, &mut errors).await?),
        None => None,
    };
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let changes = EndpointChanges {
        url: url.as_deref(),
        description: description.as_ref().map(Option::as_deref),
        enabled: body.enabled,
        events: events.as_deref(),
    };
    if !db::webhooks::update_endpoint(&state.db, &id, &changes, state.clock.now()).await? {
        return Err(ApiError::not_found("No such webhook endpoint."));
    }
    Ok(Json(existing(&state, &id).await?.into()))
}

/// Delete an endpoint and its delivery log. Nothing more is sent to it.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = Deleted),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn delete_endpoint(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Deleted>> {
    auth.require_admin()?;
    if !db::webhooks::delete_endpoint(&state.db, &id, state.clock.now()).await? {
        return Err(ApiError::not_found("No such webhook endpoint."));
    }
    Ok(Json(Deleted { ok: true }))
}

/// Replace the signing secret. For 24 h the old one still signs beside the new one (two
/// signatures in `webhook-signature`), so receivers can switch without losing a message.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = EndpointWithSecret),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn rotate_secret(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<EndpointWithSecret>> {
    auth.require_admin()?;
    let secret = signing::new_secret();
    let now = state.clock.now();
    let until = now.plus_millis(ROTATION_OVERLAP_MS);
    let sealed = signing::seal(encryption_key(&state), &secret);
    if !db::webhooks::rotate_secret(&state.db, &id, &sealed, until, now).await? {
        return Err(ApiError::not_found("No such webhook endpoint."));
    }
    Ok(Json(EndpointWithSecret {
        endpoint: existing(&state, &id).await?.into(),
        secret,
        previous_secret_expires_at: Some(until),
    }))
}
