//! The Network connection, admin side: configuration, the two connect flows (hosted
//! one-click, and the self-host email verify that only an admin can complete, for the vendor
//! it started), and the panel (in `panel`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use axum::response::{Html, IntoResponse};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::email::Email;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiQuery, MaybeJson};
use crate::http::rate_limit::{ClientIp, check};
use crate::network::connect::Contact;
use crate::network::{connect, network_host, tier};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_config, set_config, no_disconnect))
        .routes(routes!(one_click))
        .routes(routes!(start_connect))
        .routes(routes!(complete_connect))
        .routes(routes!(complete_page))
}

/// The connection as configured. Never the vendor token.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkConfigView {
    /// Connected: a vendor id and its (encrypted) token are stored.
    enabled: bool,
    network_url: String,
    network_host: String,
    vendor_id: Option<String>,
    has_vendor_token: bool,
    /// The federation key the Network holds.
    scoped_key_id: Option<String>,
    /// Every partner created is pushed to the Network.
    auto_enroll: bool,
    /// `hosted` (NETWORK_ADMIN_API_KEY set) or `self_hosted`.
    tier: &'static str,
    /// Only while a self-host signup waits for its emailed verification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_vendor_id: Option<String>,
}

/// The connection as configured. Never the vendor token.
#[utoipa::path(get, path = "/config/network", tag = "network", security(("bearer" = [])),
    responses((status = 200, body = NetworkConfigView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn get_config(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<NetworkConfigView>> {
    auth.require_admin()?;
    let network = db::network::get(state.db.pool()).await?;
    Ok(Json(NetworkConfigView {
        enabled: network.connected(),
        network_url: state.config.network_url.clone(),
        network_host: network_host(&state),
        has_vendor_token: network.vendor_token_enc.is_some(),
        vendor_id: network.vendor_id,
        scoped_key_id: network.scoped_key_id,
        auto_enroll: network.auto_enroll,
        tier: tier(&state),
        pending_vendor_id: network.pending_vendor_id,
    }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkSettings {
    /// Push every partner created (admin or self-signup) to the Network.
    auto_enroll: Option<bool>,
}

/// Change Network settings (auto-enroll).
#[utoipa::path(post, path = "/config/network", tag = "network", security(("bearer" = [])),
    request_body = NetworkSettings,
    responses((status = 200, description = "The configuration, as GET answers it", body = NetworkConfigView),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn set_config(
    State(state): State<AppState>,
    auth: Auth,
    MaybeJson(body): MaybeJson<NetworkSettings>,
) -> ApiResult<Json<NetworkConfigView>> {
    auth.require_admin()?;
    if let Some(on) = body.auto_enroll {
        db::network::set_auto_enroll(&state.db, on, state.clock.now()).await?;
    }
    get_config(State(state), auth).await
}

/// There is deliberately no disconnect.
#[utoipa::path(delete, path = "/config/network", tag = "network", security(("bearer" = [])),
    responses((status = 405, description = "`method_not_allowed`, with how to leave in `detail`", body = ErrorBody)))]
async fn no_disconnect(auth: Auth) -> ApiResult<ApiError> {
    auth.require_admin()?;
    Ok(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "There is no disconnect, on purpose: existing approved partnerships keep working through the federation. \
         To leave, turn off shareOnNetwork on each program (PATCH /programs/:id) so creators stop discovering you \
         and pending requests cannot reach you. Hard-deleting your Network presence requires support.",
    ))
}

/// Optional text of a connect request: trimmed, empty as absent, at most 120 characters, no
/// control characters.
fn clean_text(s: Option<String>, field: &str) -> ApiResult<Option<String>> {
    match s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
        Some(s) if s.chars().any(char::is_control) => Err(ApiError::invalid_field(
            field,
            "must not contain control characters",
        )),
        Some(s) if s.chars().count() > 120 => Err(ApiError::invalid_field(
            field,
            "must be at most 120 characters",
        )),
        other => Ok(other),
    }
}

fn clean_email(raw: &str) -> ApiResult<String> {
    Email::parse(raw)
        .map(|e| e.as_str().to_string())
        .map_err(|m| ApiError::invalid_field("contactEmail", m))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OneClick {
    /// The brand's contact on the Network. Default: `OPENPARTNER_ADMIN_EMAIL`.
    contact_email: Option<String>,
    /// The contact's name (at most 120 characters).
    contact_name: Option<String>,
    /// The brand as the marketplace shows it. Default: `OPENPARTNER_BRAND_NAME`.
    display_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OneClickAnswer {
    ok: bool,
    vendor_id: String,
}

/// Hosted one-click connect ("List my brand on the Network"). The body is optional.
#[utoipa::path(post, path = "/config/network/auto-enroll", tag = "network", security(("bearer" = [])),
    request_body(content = OneClick, description = "Optional"),
    responses((status = 200, body = OneClickAnswer),
        (status = 400, description = "`invalid_body`; `admin_email_unresolvable`: no contactEmail and no OPENPARTNER_ADMIN_EMAIL; `network_signup_refused`: the Network refused the contact", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 409, description = "`network_signup_refused`: the Network refused the contact (e.g. address taken)", body = ErrorBody),
        (status = 502, description = "`network_signup_failed` (Network status and body in `detail`)", body = ErrorBody),
        (status = 503, description = "`admin_token_not_configured`, `encryption_key_not_configured`", body = ErrorBody)))]
async fn one_click(
    State(state): State<AppState>,
    auth: Auth,
    MaybeJson(body): MaybeJson<OneClick>,
) -> ApiResult<Json<OneClickAnswer>> {
    auth.require_admin()?;
    let contact = Contact {
        email: body.contact_email.as_deref().map(clean_email).transpose()?,
        name: clean_text(body.contact_name, "contactName")?,
        display_name: clean_text(body.display_name, "displayName")?,
    };
    let vendor_id = connect::one_click(&state, contact).await?;
    Ok(Json(OneClickAnswer {
        ok: true,
        vendor_id,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartConnect {
    contact_email: String,
    contact_name: Option<String>,
    display_name: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartConnectAnswer {
    /// The vendor awaiting verification; only its token completes the connect.
    vendor_id: String,
    /// `pending`.
    status: String,
    email_sent: bool,
}

/// Self-host connect: the Network emails a verification link to `contactEmail`.
#[utoipa::path(post, path = "/config/network/start-connect", tag = "network", security(("bearer" = [])),
    request_body = StartConnect,
    responses((status = 202, body = StartConnectAnswer),
        (status = 400, description = "`invalid_body`; `network_signup_refused`: the Network refused the contact", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 409, description = "`network_signup_refused`: the Network refused the contact (e.g. address taken)", body = ErrorBody),
        (status = 502, description = "`network_signup_failed`", body = ErrorBody),
        (status = 503, description = "`encryption_key_not_configured`", body = ErrorBody)))]
async fn start_connect(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<StartConnect>,
) -> ApiResult<(StatusCode, Json<StartConnectAnswer>)> {
    auth.require_admin()?;
    let email = clean_email(&body.contact_email)?;
    let name = clean_text(body.contact_name, "contactName")?;
    let display = clean_text(body.display_name, "displayName")?;
    let started = connect::start(&state, &email, name.as_deref(), display.as_deref()).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(StartConnectAnswer {
            vendor_id: started.vendor_id,
            status: started.status,
            email_sent: started.email_sent,
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteConnect {
    /// The token from the Network's verification email.
    ntoken: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteConnectAnswer {
    ok: bool,
    vendor_id: String,
    display_name: String,
}

/// Self-host connect, last step, by an admin (key, or console session with its CSRF token):
/// the emailed token must belong to the vendor this instance's start-connect is waiting for.
/// Refused, nothing changes: neither the connection nor the federation key.
#[utoipa::path(post, path = "/config/network/complete-connect", tag = "network", security(("bearer" = [])),
    request_body = CompleteConnect,
    responses((status = 200, body = CompleteConnectAnswer),
        (status = 400, description = "`invalid_body`; `invalid_connect_token`: the Network refused the token (its status in `networkStatus`)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only; `csrf_failed`", body = ErrorBody),
        (status = 409, description = "`no_pending_connect`: no start-connect awaits verification; `vendor_mismatch`: the token is another vendor's", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 502, description = "`network_verify_failed`: the Network failed or was unreachable (its status and body in `detail`)", body = ErrorBody),
        (status = 503, description = "`encryption_key_not_configured`", body = ErrorBody)))]
async fn complete_connect(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    auth: Auth,
    ApiJson(body): ApiJson<CompleteConnect>,
) -> ApiResult<Json<CompleteConnectAnswer>> {
    auth.require_admin()?;
    check(&state.rate_limits.verify, ip)?;
    let token = body.ntoken.trim();
    if token.is_empty() || token.len() > 512 || token.chars().any(char::is_control) {
        return Err(ApiError::invalid_field(
            "ntoken",
            "must be 1 to 512 characters",
        ));
    }
    let done = connect::complete(&state, token).await?;
    Ok(Json(CompleteConnectAnswer {
        ok: true,
        vendor_id: done.vendor_id,
        display_name: done.display_name,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompleteQuery {
    ntoken: Option<String>,
}

/// The page the Network's verification email opens. Not signed in to the console, it asks
/// the admin to sign in and come back; signed in, its button completes the connect.
#[utoipa::path(get, path = "/admin/network/complete", tag = "network", params(CompleteQuery),
    responses((status = 200, description = "HTML page", content_type = "text/html")))]
async fn complete_page(ApiQuery(q): ApiQuery<CompleteQuery>) -> impl IntoResponse {
    let token = q.ntoken.unwrap_or_default();
    // Escaped into a JSON string literal inside the page.
    let token_js = serde_json::to_string(&token)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c");
    (
        [
            (CACHE_CONTROL, "no-store"),
            (REFERRER_POLICY, "no-referrer"),
            (CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
        ],
        Html(COMPLETE_PAGE.replace("{{token}}", &token_js)),
    )
}

const COMPLETE_PAGE: &str = include_str!("complete.html");
