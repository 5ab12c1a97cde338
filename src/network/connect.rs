//! Connecting to the Network: hosted one-click (with `NETWORK_ADMIN_API_KEY`) and the
//! self-host email-verify flow. Both end in the same state: vendor id and encrypted token
//! stored, a fresh federation key held by the Network, the previous one revoked.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::db::api_keys::KeyKind;
use crate::db::network::Connected;
use crate::domain::ids::ApiKeyId;
use crate::domain::scopes::ScopeSet;
use crate::error::{ApiError, ApiResult};
use crate::keys;
use crate::network::client::{ADMIN_TIMEOUT, CallError, VERIFY_TIMEOUT};
use crate::network::{FEDERATION_SCOPES, heartbeat, offerings, tier};
use crate::state::AppState;

fn encryption_key(state: &AppState) -> ApiResult<[u8; 32]> {
    state
        .config
        .encryption_key
        .as_ref()
        .map(|k| *k.expose())
        .ok_or_else(|| {
            ApiError::unavailable(
                "encryption_key_not_configured",
                "Set SECRETS_ENCRYPTION_KEY (32 bytes, hex or base64) to connect to the Network.",
            )
        })
}

fn network_failed(code: &'static str, e: &CallError) -> ApiError {
    let status = match e {
        CallError::Status { status, .. } => *status,
        CallError::Transport(_) => 0,
    };
    ApiError::new(StatusCode::BAD_GATEWAY, code, e.detail()).with("networkStatus", status)
}

async fn mint_federation_key(state: &AppState) -> ApiResult<keys::MintedKey> {
    let scopes = ScopeSet::parse_all(FEDERATION_SCOPES).expect("known scopes");
    Ok(keys::mint(
        &state.db,
        &state.clock,
        KeyKind::Scoped,
        scopes,
        None,
        Some("OpenPartner Network federation"),
    )
    .await?)
}

async fn revoke_key(state: &AppState, id: Option<&str>) -> ApiResult<()> {
    if let Some(id) = id {
        state
            .db
            .revoke_api_key(&ApiKeyId::from_string(id), state.clock.now())
            .await?;
        state.auth.invalidate_all();
    }
    Ok(())
}

fn signup_body(
    state: &AppState,
    key: &str,
    display_name: &str,
    email: &str,
    name: Option<&str>,
    tier: &str,
) -> Value {
    json!({
        "instanceUrl": state.config.public_url,
        "scopedKey": key,
        "displayName": display_name,
        "tier": tier,
        "contact": { "email": email, "name": name },
        "portalCallbackUrl": format!("{}/admin/network/complete", state.config.public_url),
    })
}

/// Finishes a connect: store the token encrypted, switch federation keys, publish offerings.
async fn finish(
    state: &AppState,
    vendor_id: &str,
    token: &str,
    display_name: &str,
    tier: &str,
    key_id: Option<String>,
) -> ApiResult<()> {
    let enc = crate::secrets::encrypt(&encryption_key(state)?, token);
    let previous = state.db.get_connection().await?.scoped_key_id;
    state
        .db
        .set_connected(
            &Connected {
                vendor_id,
                token_enc: &enc,
                display_name,
                tier,
                scoped_key_id: key_id.as_deref(),
            },
            state.clock.now(),
        )
        .await?;
    if previous != key_id {
        revoke_key(state, previous.as_deref()).await?;
    }
    state.db.mark_all_offerings_dirty().await?;
    offerings::sync_in_background(state);
    heartbeat::trigger(state);
    tracing::info!(%vendor_id, "connected to the Network");
    Ok(())
}

/// Hosted one-click: signs up with the admin bearer and is active at once.
pub async fn one_click(state: &AppState) -> ApiResult<String> {
    let Some(admin) = state.config.network_admin_api_key.clone() else {
        return Err(ApiError::unavailable(
            "admin_token_not_configured",
            "One-click connect needs NETWORK_ADMIN_API_KEY (hosted tier). Use the email-verify flow instead.",
        ));
    };
    encryption_key(state)?;
    let key = mint_federation_key(state).await?;
    let name = state.config.brand_name.clone();
    let body = signup_body(
        state,
        &key.plaintext,
        &name,
        state.config.mail_from.email.as_ref(),
        Some(&name),
        "hosted",
    );
    let answer = match state
        .network
        .post(
            "/vendors/signup",
            Some(admin.expose()),
            &body,
            ADMIN_TIMEOUT,
        )
        .await
    {
        Ok(a) => a,
        Err(e) => {
            revoke_key(state, Some(key.row.id.as_str())).await?;
            return Err(network_failed("network_signup_failed", &e));
        }
    };
    let (Some(vendor_id), Some(token)) =
        (answer["vendorId"].as_str(), answer["vendorToken"].as_str())
    else {
        revoke_key(state, Some(key.row.id.as_str())).await?;
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "network_signup_failed",
            "The Network answered without a vendor token.",
        ));
    };
    let display = answer["displayName"].as_str().unwrap_or(&name).to_string();
    finish(
        state,
        vendor_id,
        token,
        &display,
        "hosted",
        Some(key.row.id.to_string()),
    )
    .await?;
    Ok(vendor_id.to_string())
}

/// Self-host: asks the Network to email a verification link to `contact_email`.
pub async fn start(
    state: &AppState,
    contact_email: &str,
    contact_name: Option<&str>,
    display_name: Option<&str>,
) -> ApiResult<Value> {
    encryption_key(state)?;
    let key = mint_federation_key(state).await?;
    let display = display_name.unwrap_or(&state.config.brand_name).to_string();
    let body = signup_body(
        state,
        &key.plaintext,
        &display,
        contact_email,
        contact_name,
        "self_hosted",
    );
    let answer = match state
        .network
        .post("/vendors/signup", None, &body, ADMIN_TIMEOUT)
        .await
    {
        Ok(a) => a,
        Err(e) => {
            revoke_key(state, Some(key.row.id.as_str())).await?;
            return Err(network_failed("network_signup_failed", &e));
        }
    };
    let Some(vendor_id) = answer["vendorId"].as_str() else {
        revoke_key(state, Some(key.row.id.as_str())).await?;
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "network_signup_failed",
            "The Network answered without a vendor id.",
        ));
    };
    // A restarted flow supersedes the earlier pending key.
    let earlier = state.db.get_connection().await?.pending_scoped_key_id;
    state
        .db
        .set_pending_connection(vendor_id, key.row.id.as_str(), state.clock.now())
        .await?;
    revoke_key(state, earlier.as_deref()).await?;
    Ok(json!({
        "vendorId": vendor_id,
        "status": answer["status"].as_str().unwrap_or("pending"),
        "emailSent": answer["emailSent"].as_bool().unwrap_or(false),
    }))
}

/// Self-host: the emailed token is the proof; exchanges it for the vendor token.
pub async fn complete(state: &AppState, ntoken: &str) -> ApiResult<Value> {
    encryption_key(state)?;
    let answer = state
        .network
        .post(
            "/vendors/verify-and-issue-token",
            None,
            &json!({ "token": ntoken }),
            VERIFY_TIMEOUT,
        )
        .await
        .map_err(|e| network_failed("network_verify_failed", &e))?;
    let (Some(vendor_id), Some(token)) =
        (answer["vendorId"].as_str(), answer["vendorToken"].as_str())
    else {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "network_verify_failed",
            "The Network answered without a vendor token.",
        ));
    };
    let conn = state.db.get_connection().await?;
    let display = answer["displayName"]
        .as_str()
        .unwrap_or(&state.config.brand_name)
        .to_string();
    finish(
        state,
        vendor_id,
        token,
        &display,
        tier(state),
        conn.pending_scoped_key_id,
    )
    .await?;
    Ok(json!({ "ok": true, "vendorId": vendor_id, "displayName": display }))
}
