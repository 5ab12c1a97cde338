//! The Network connection, admin side: configuration, the two connect flows, the panel's data
//! (`/admin/network/me`) and "Push update to marketplace now".

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse};
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::email::Email;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiQuery, MaybeJson};
use crate::http::rate_limit::{ClientIp, check};
use crate::network::client::VERIFY_TIMEOUT;
use crate::network::heartbeat::{self, Outcome};
use crate::network::{connect, network_host, tier, vendor_token};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_config, set_config, no_disconnect))
        .routes(routes!(one_click))
        .routes(routes!(start_connect))
        .routes(routes!(complete_connect))
        .routes(routes!(complete_page))
        .routes(routes!(me))
        .routes(routes!(push_now))
}

/// The connection as configured. Never the vendor token.
#[utoipa::path(get, path = "/config/network", tag = "network", security(("bearer" = [])),
    responses((status = 200, description = "`{enabled, networkUrl, networkHost, vendorId, hasVendorToken, scopedKeyId, autoEnroll, tier}`", body = Object),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn get_config(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let conn = state.db.get_connection().await?;
    let mut body = json!({
        "enabled": conn.connected(),
        "networkUrl": state.config.network_url,
        "networkHost": network_host(&state),
        "vendorId": conn.vendor_id,
        "hasVendorToken": conn.vendor_token_enc.is_some(),
        "scopedKeyId": conn.scoped_key_id,
        "autoEnroll": conn.auto_enroll,
        "tier": tier(&state),
    });
    // Only while a self-host signup waits for its emailed verification.
    if let Some(pending) = conn.pending_vendor_id {
        body["pendingVendorId"] = json!(pending);
    }
    Ok(Json(body))
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
    responses((status = 200, description = "The configuration, as GET answers it", body = Object),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn set_config(
    State(state): State<AppState>,
    auth: Auth,
    MaybeJson(body): MaybeJson<NetworkSettings>,
) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    if let Some(on) = body.auto_enroll {
        state.db.set_auto_enroll(on, state.clock.now()).await?;
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

/// Hosted one-click connect ("List my brand on the Network").
#[utoipa::path(post, path = "/config/network/auto-enroll", tag = "network", security(("bearer" = [])),
    responses((status = 200, description = "`{ok: true, vendorId}`", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 502, description = "`network_signup_failed` (Network status and body in `detail`)", body = ErrorBody),
        (status = 503, description = "`admin_token_not_configured`, `encryption_key_not_configured`", body = ErrorBody)))]
async fn one_click(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let vendor_id = connect::one_click(&state).await?;
    Ok(Json(json!({ "ok": true, "vendorId": vendor_id })))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StartConnect {
    contact_email: String,
    contact_name: Option<String>,
    display_name: Option<String>,
}

/// Self-host connect: the Network emails a verification link to `contactEmail`.
#[utoipa::path(post, path = "/config/network/start-connect", tag = "network", security(("bearer" = [])),
    request_body = StartConnect,
    responses((status = 202, description = "`{vendorId, status: \"pending\", emailSent}`", body = Object),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 502, description = "`network_signup_failed`", body = ErrorBody),
        (status = 503, description = "`encryption_key_not_configured`", body = ErrorBody)))]
async fn start_connect(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<StartConnect>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    auth.require_admin()?;
    let email = Email::parse(&body.contact_email)
        .map_err(|m| ApiError::invalid_field("contactEmail", m))?;
    let clean = |s: Option<String>, field: &str| -> ApiResult<Option<String>> {
        match s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()) {
            Some(s) if s.chars().count() > 120 => Err(ApiError::invalid_field(
                field,
                "must be at most 120 characters",
            )),
            other => Ok(other),
        }
    };
    let name = clean(body.contact_name, "contactName")?;
    let display = clean(body.display_name, "displayName")?;
    let answer =
        connect::start(&state, email.as_str(), name.as_deref(), display.as_deref()).await?;
    Ok((StatusCode::ACCEPTED, Json(answer)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteConnect {
    /// The token from the Network's verification email.
    ntoken: String,
}

/// Self-host connect, last step: the emailed token is the proof (no key needed).
#[utoipa::path(post, path = "/config/network/complete-connect", tag = "network",
    request_body = CompleteConnect,
    responses((status = 200, description = "`{ok: true, vendorId, displayName}`", body = Object),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody),
        (status = 502, description = "`network_verify_failed` (Network status and body in `detail`)", body = ErrorBody),
        (status = 503, description = "`encryption_key_not_configured`", body = ErrorBody)))]
async fn complete_connect(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<CompleteConnect>,
) -> ApiResult<Json<Value>> {
    check(&state.rate_limits.verify, ip)?;
    let token = body.ntoken.trim();
    if token.is_empty() || token.len() > 512 {
        return Err(ApiError::invalid_field(
            "ntoken",
            "must be 1 to 512 characters",
        ));
    }
    Ok(Json(connect::complete(&state, token).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CompleteQuery {
    ntoken: Option<String>,
}

/// The page the Network's verification email opens; its button completes the connect.
#[utoipa::path(get, path = "/admin/network/complete", tag = "network", params(CompleteQuery),
    responses((status = 200, description = "HTML page", content_type = "text/html")))]
async fn complete_page(ApiQuery(q): ApiQuery<CompleteQuery>) -> impl IntoResponse {
    let token = q.ntoken.unwrap_or_default();
    // Escaped into a JSON string literal inside the page.
    let token_js = serde_json::to_string(&token)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('<', "\\u003c");
    Html(COMPLETE_PAGE.replace("{{token}}", &token_js))
}

const COMPLETE_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Connect to the OpenPartner Network</title>
<style>body{font-family:system-ui,sans-serif;max-width:30rem;margin:4rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#1d4ed8;color:#fff;cursor:pointer}
button:disabled{opacity:.6}</style></head>
<body><main><h1>Connect to the OpenPartner Network</h1>
<p>Press the button to finish listing your brand on the Network.</p>
<button id="go" type="button">Finish connecting</button>
<p id="msg" role="status" aria-live="polite"></p></main>
<script>
const ntoken = {{token}};
const btn = document.getElementById("go"), msg = document.getElementById("msg");
if (!ntoken) { btn.disabled = true; msg.textContent = "This link is incomplete."; }
btn.addEventListener("click", async () => {
  btn.disabled = true; msg.textContent = "Connecting…";
  try {
    const r = await fetch("/config/network/complete-connect", {method: "POST",
      headers: {"content-type": "application/json"}, body: JSON.stringify({ntoken})});
    const b = await r.json();
    if (r.ok) { msg.textContent = "Connected as " + b.displayName + ". You can close this page."; }
    else { msg.textContent = "Failed: " + (b.detail || b.error); btn.disabled = false; }
  } catch (e) { msg.textContent = "Network error: " + e; btn.disabled = false; }
});
</script></body></html>"#;

/// The Network panel: connection, listing status, last heartbeat. Each load also fires a
/// heartbeat in the background.
#[utoipa::path(get, path = "/admin/network/me", tag = "network", security(("bearer" = [])),
    responses((status = 200, description = "`{connected: false}` or `{connected, networkHost, vendorId, displayName, status, activePartnerCount, autoEnroll, lastHeartbeat: {at, sent, reason}, network | networkError}`", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    let conn = state.db.get_connection().await?;
    if !conn.connected() {
        let mut body = json!({ "connected": false });
        // Only while a self-host signup waits for its emailed verification.
        if let Some(pending) = conn.pending_vendor_id {
            body["pendingVendorId"] = json!(pending);
        }
        return Ok(Json(body));
    }
    heartbeat::trigger(&state);
    let (network, network_error) = match vendor_token(&state, &conn) {
        Ok(token) => match state
            .network
            .get("/vendors/me", &token, VERIFY_TIMEOUT)
            .await
        {
            Ok(v) => {
                if let Some(status) = v["status"].as_str() {
                    state
                        .db
                        .set_vendor_status(status, v["displayName"].as_str())
                        .await?;
                }
                (Some(v), None)
            }
            Err(e) => (None, Some(e.reason())),
        },
        Err(reason) => (None, Some(reason)),
    };
    let conn = state.db.get_connection().await?;
    let mut body = json!({
        "connected": true,
        "networkHost": network_host(&state),
        "vendorId": conn.vendor_id,
        "displayName": conn.display_name,
        "status": conn.status,
        "tier": conn.tier,
        "activePartnerCount": state.db.count_live_partners().await?,
        "autoEnroll": conn.auto_enroll,
        "lastHeartbeat": {
            "at": conn.last_heartbeat_at,
            "sent": conn.last_heartbeat_sent,
            "reason": conn.last_heartbeat_reason,
        },
    });
    match (network, network_error) {
        (Some(n), _) => body["network"] = n,
        (_, Some(e)) => body["networkError"] = json!(e),
        _ => {}
    }
    if let (Some(body), Value::Object(figures)) = (
        body.as_object_mut(),
        crate::http::network_sync::panel_figures(&state).await?,
    ) {
        body.extend(figures);
    }
    Ok(Json(body))
}

/// "Push update to marketplace now": sends a heartbeat synchronously and says exactly what
/// happened.
#[utoipa::path(post, path = "/admin/network/heartbeat", tag = "network", security(("bearer" = [])),
    responses((status = 200, description = "`{sent: true, partnerCount}` or `{sent: false, reason}`", body = Object),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn push_now(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Value>> {
    auth.require_admin()?;
    Ok(Json(match heartbeat::send(&state).await {
        Outcome::Sent { partner_count } => json!({ "sent": true, "partnerCount": partner_count }),
        Outcome::Failed(reason) => json!({ "sent": false, "reason": reason }),
    }))
}
