//! The Network marketplace from the brand's side: creator applications (approve / reject),
//! discovery, invitations and offerings, proxied to the Network with the vendor token.
//!
//! The Network's JSON comes back as it is on success (its status too, but for an invitation,
//! which is always 201), described by tolerant views: the fields we know, and whatever else
//! the Network sends, passed on. A Network failure is
//! `network_call_failed` with the Network's status and `"<status>: <body>"`; no connection is
//! 503 `network_not_configured`; an unreachable Network is 503 `network_unreachable`. Nothing is
//! held across the call (no lock, no transaction): on approve the Network calls back into this
//! instance (POST /partners, then the link) while the call is in flight.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath, MaybeJson};
use crate::network::client::{ADMIN_TIMEOUT, CallError, pass_through};
use crate::network::connected;
use crate::state::AppState;

mod views;

use views::{DiscoverView, InvitationView, NetworkRequest, OfferingsView, RequestsView};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(discover))
        .routes(routes!(invite))
        .routes(routes!(list_offerings))
}

/// One call to the Network: its status and its answer read into the view `T`.
async fn proxy<T: DeserializeOwned + Default>(
    state: &AppState,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> ApiResult<(StatusCode, Json<T>)> {
    proxy_as(state, method, path, None, body).await
}

/// [`proxy`], acting for one of our partners (`x-act-as-vendor-partner`).
pub(crate) async fn proxy_as<T: DeserializeOwned + Default>(
    state: &AppState,
    method: Method,
    path: &str,
    act_as: Option<&str>,
    body: Option<Value>,
) -> ApiResult<(StatusCode, Json<T>)> {
    let (_, token) = connected(state).await?;
    match state
        .network
        .call_as(
            method,
            path,
            Some(&token),
            act_as,
            body.as_ref(),
            ADMIN_TIMEOUT,
        )
        .await
    {
        Ok((status, answer)) => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            Ok((status, Json(pass_through(answer))))
        }
        Err(e @ CallError::Status { status, .. }) => Err(ApiError::new(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            "network_call_failed",
            e.detail(),
        )),
        Err(CallError::Transport(e)) => Err(ApiError::unavailable("network_unreachable", e)),
    }
}

/// Network ids go into a path: only their safe alphabet is accepted.
pub(crate) fn network_id(id: &str) -> ApiResult<&str> {
    if !id.is_empty()
        && id.len() <= 100
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        Ok(id)
    } else {
        Err(ApiError::not_found("No such item on the Network."))
    }
}

fn note(n: Option<String>) -> ApiResult<Option<String>> {
    match n.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()) {
        Some(n) if n.chars().count() > 1000 => Err(ApiError::invalid_field(
            "decisionNote",
            "must be at most 1000 characters",
        )),
        other => Ok(other),
    }
}

/// Documents the query; the handler reads it raw to pass it on.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RequestsQuery {
    /// `pending`, `approved` or `rejected`.
    status: Option<String>,
}

/// Creators' applications to the brand's offerings.
#[utoipa::path(get, path = "/admin/network/requests", tag = "marketplace", security(("bearer" = [])),
    params(RequestsQuery),
    responses((status = 200, description = "The Network's `{requests: [...]}`", body = RequestsView),
        (status = 400, description = "`invalid_query`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 503, description = "`network_not_configured`, `network_unreachable`", body = ErrorBody)))]
async fn list_requests(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> ApiResult<(StatusCode, Json<RequestsView>)> {
    auth.require_admin()?;
    let status = q.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "status")
            .map(|(_, v)| v.into_owned())
    });
    let path = match status.as_deref() {
        None | Some("") => "/vendors/me/requests".to_string(),
        Some(s @ ("pending" | "approved" | "rejected")) => {
            format!("/vendors/me/requests?status={s}")
        }
        Some(_) => {
            return Err(ApiError::invalid_query(
                "status must be pending, approved or rejected",
            ));
        }
    };
    proxy(&state, Method::GET, &path, None).await
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    decision_note: Option<String>,
    /// Approve into this program instead of the offering's.
    program_id: Option<String>,
}

/// Approve an application. While this call is in flight the Network federates the creator in
/// (POST /partners, then its link, with the federation key).
#[utoipa::path(post, path = "/admin/network/requests/{id}/approve", tag = "marketplace", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Decision, description = "Optional"),
    responses((status = 200, description = "The request, approved", body = NetworkRequest),
        (status = 400, description = "`invalid_body` (e.g. unknown programId)", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 503, description = "`network_not_configured`, `network_unreachable`", body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<Decision>,
) -> ApiResult<(StatusCode, Json<NetworkRequest>)> {
    auth.require_admin()?;
    let id = network_id(&id)?;
    let note = note(body.decision_note)?;
    if let Some(p) = &body.program_id {
        if db::programs::get(state.db.pool(), p).await?.is_none() {
            return Err(ApiError::invalid_field("programId", "no such program"));
        }
    }
    let payload = json!({ "decisionNote": note, "programId": body.program_id });
    let answer = proxy(
        &state,
        Method::POST,
        &format!("/vendors/me/requests/{id}/approve"),
        Some(payload.clone()),
    )
    .await?;
    audit(
        &state,
        "marketplace.approve",
        "network_request",
        id,
        &payload,
    )
    .await?;
    Ok(answer)
}

/// Records a decision taken on the Network (its own transaction: the change is the
/// Network's); `fields` are what was sent, never the federation token.
pub(crate) async fn audit(
    state: &AppState,
    action: &str,
    target_type: &str,
    id: &str,
    fields: &Value,
) -> ApiResult<()> {
    let change = crate::db::audit::Change {
        action,
        target_type,
        target_id: id,
        changes: crate::db::audit::diff(&Value::Null, fields),
    };
    db::audit::record_action(&state.db, change, state.clock.now()).await?;
    Ok(())
}

/// Reject an application.
#[utoipa::path(post, path = "/admin/network/requests/{id}/reject", tag = "marketplace", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = Decision, description = "Optional; only decisionNote"),
    responses((status = 200, description = "The request, rejected", body = NetworkRequest),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 503, description = "`network_not_configured`, `network_unreachable`", body = ErrorBody)))]
async fn reject(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<Decision>,
) -> ApiResult<(StatusCode, Json<NetworkRequest>)> {
    auth.require_admin()?;
    let id = network_id(&id)?;
    if body.program_id.is_some() {
        return Err(ApiError::invalid_field(
            "programId",
            "only approve takes a program",
        ));
    }
    let payload = json!({ "decisionNote": note(body.decision_note)? });
    let answer = proxy(
        &state,
        Method::POST,
        &format!("/vendors/me/requests/{id}/reject"),
        Some(payload.clone()),
    )
    .await?;
    audit(
        &state,
        "marketplace.reject",
        "network_request",
        id,
        &payload,
    )
    .await?;
    Ok(answer)
}

/// Discover creators on the Network; the query string is passed through as it is.
#[utoipa::path(get, path = "/admin/network/discover/creators", tag = "marketplace", security(("bearer" = [])),
    responses((status = 200, description = "The Network's `{creators: [...]}`", body = DiscoverView),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 503, description = "`network_not_configured`, `network_unreachable`", body = ErrorBody)))]
async fn discover(
    State(state): State<AppState>,
    auth: Auth,
    RawQuery(q): RawQuery,
) -> ApiResult<(StatusCode, Json<DiscoverView>)> {
    auth.require_admin()?;
    let path = match q.filter(|q| !q.is_empty()) {
        Some(q) if q.len() <= 2000 => format!("/vendors/me/discover/creators?{q}"),
        Some(_) => return Err(ApiError::invalid_query("the query string is too long")),
        None => "/vendors/me/discover/creators".to_string(),
    };
    proxy(&state, Method::GET, &path, None).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Invite {
    creator_id: String,
    message: Option<String>,
}

/// Invite a creator to an offering (idempotent per creator on the Network).
#[utoipa::path(post, path = "/admin/network/offerings/{id}/invite-creator", tag = "marketplace", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = Invite,
    responses((status = 201, description = "The invitation (also for a repeat, whatever 2xx the Network used)", body = InvitationView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 503, description = "`network_not_configured`, `network_unreachable`", body = ErrorBody)))]
async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<Invite>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    auth.require_admin()?;
    let id = network_id(&id)?;
    let creator = body.creator_id.trim();
    if creator.is_empty() || creator.len() > 100 {
        return Err(ApiError::invalid_field(
            "creatorId",
            "must be 1 to 100 characters",
        ));
    }
    let message = body
        .message
        .map(|m| m.trim().to_string())
        .filter(|m| !m.is_empty());
    if message.as_ref().is_some_and(|m| m.chars().count() > 2000) {
        return Err(ApiError::invalid_field(
            "message",
            "must be at most 2000 characters",
        ));
    }
    let payload = json!({ "creatorId": creator, "message": message });
    let (_, invitation) = proxy(
        &state,
        Method::POST,
        &format!("/vendors/me/offerings/{id}/invitations"),
        Some(payload.clone()),
    )
    .await?;
    audit(
        &state,
        "marketplace.invite_creator",
        "network_offering",
        id,
        &payload,
    )
    .await?;
    // The contract says 201, whatever 2xx the Network used (it answers 200 for a repeat).
    Ok((StatusCode::CREATED, invitation))
}

/// The brand's offerings as the Network has them.
#[utoipa::path(get, path = "/admin/network/offerings", tag = "marketplace", security(("bearer" = [])),
    responses((status = 200, description = "The Network's `{offerings: [...]}`", body = OfferingsView),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 503, description = "`network_not_configured`, `network_unreachable`", body = ErrorBody)))]
async fn list_offerings(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<(StatusCode, Json<OfferingsView>)> {
    auth.require_admin()?;
    proxy(&state, Method::GET, "/vendors/me/offerings", None).await
}
