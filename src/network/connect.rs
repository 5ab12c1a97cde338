//! Connecting to the Network: hosted one-click (with `NETWORK_ADMIN_API_KEY`) and the
//! self-host email-verify flow. Both end in the same state: vendor id and encrypted token
//! stored, a fresh federation key held by the Network, the previous one revoked.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::db;
use crate::db::api_keys::KeyKind;
use crate::db::network::{Connected, NewKey};
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

/// The Network refused what the caller supplied (an email, a token): a 4xx of ours, not a
/// failing upstream. Any other status (our credentials refused, 404, 408, 429, 5xx) stays an
/// upstream failure.
fn caller_refused(e: &CallError) -> Option<StatusCode> {
    match e {
        CallError::Status { status: 409, .. } => Some(StatusCode::CONFLICT),
        // 404/405 more likely mean a wrong Network URL than a bad token or address.
        CallError::Status { status, .. } if [400, 410, 422].contains(status) => {
            Some(StatusCode::BAD_REQUEST)
        }
        _ => None,
    }
}

/// A failed Network call: `refused` when the Network refused the caller's input, else
/// `failed` (502) with the Network's status.
fn network_error(refused: &'static str, failed: &'static str, e: &CallError) -> ApiError {
    match (caller_refused(e), e) {
        (Some(ours), CallError::Status { status, .. }) => {
            ApiError::new(ours, refused, e.detail()).with("networkStatus", *status)
        }
        _ => network_failed(failed, e),
    }
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
        db::api_keys::revoke(&state.db, &ApiKeyId::from_string(id), state.clock.now()).await?;
        state.auth.invalidate_all();
    }
    Ok(())
}

/// The brand's contact and name, as the admin gave them (already validated).
#[derive(Debug, Clone, Default)]
pub struct Contact {
    pub email: Option<String>,
    pub name: Option<String>,
    pub display_name: Option<String>,
}

/// What the Network answered a self-host signup.
#[derive(Debug, Clone)]
pub struct Started {
    pub vendor_id: String,
    pub status: String,
    pub email_sent: bool,
}

/// A completed self-host connect.
#[derive(Debug, Clone)]
pub struct Completed {
    pub vendor_id: String,
    pub display_name: String,
}

/// The `/vendors/signup` body. `contact.name` is left out when there is none (the Network
/// takes it as an optional string, not `null`).
fn signup_body(
    state: &AppState,
    key: &str,
    display_name: &str,
    email: &str,
    name: Option<&str>,
    tier: &str,
) -> Value {
    let mut contact = serde_json::Map::new();
    contact.insert("email".into(), json!(email));
    if let Some(name) = name {
        contact.insert("name".into(), json!(name));
    }
    json!({
        "instanceUrl": state.config.public_url,
        "scopedKey": key,
        "displayName": display_name,
        "tier": tier,
        "contact": contact,
        "portalCallbackUrl": format!("{}/admin/network/complete", state.config.public_url),
    })
}

/// Finishes a connect: store the token encrypted and switch federation keys in one
/// transaction, then publish offerings. `None` when a self-host completion no longer matches
/// the pending vendor (nothing changed).
async fn finish(
    state: &AppState,
    vendor_id: &str,
    token: &str,
    display_name: &str,
    tier: &str,
    key: NewKey<'_>,
) -> ApiResult<Option<()>> {
    let enc = crate::secrets::encrypt(&encryption_key(state)?, token);
    let stored = db::network::store(
        &state.db,
        &Connected {
            vendor_id,
            token_enc: &enc,
            display_name,
            tier,
            key,
        },
        state.clock.now(),
    )
    .await?;
    let Some(revoked) = stored else {
        return Ok(None);
    };
    if !revoked.is_empty() {
        state.auth.invalidate_all();
    }
    db::programs::mark_all_offerings_dirty(state.db.pool()).await?;
    offerings::sync_in_background(state);
    heartbeat::trigger(state);
    tracing::info!(%vendor_id, "connected to the Network");
    Ok(Some(()))
}

fn admin_email_unresolvable() -> ApiError {
    ApiError::bad_request(
        "admin_email_unresolvable",
        "Name the brand's contact: send contactEmail, or set OPENPARTNER_ADMIN_EMAIL.",
    )
}

/// Hosted one-click: signs up with the admin bearer and is active at once. The contact is the
/// request's `contactEmail`, else `OPENPARTNER_ADMIN_EMAIL`; never the no-reply sender.
pub async fn one_click(state: &AppState, contact: Contact) -> ApiResult<String> {
    let Some(admin) = state.config.network_admin_api_key.clone() else {
        return Err(ApiError::unavailable(
            "admin_token_not_configured",
            "One-click connect needs NETWORK_ADMIN_API_KEY (hosted tier). Use the email-verify flow instead.",
        ));
    };
    encryption_key(state)?;
    let Some(email) = contact.email.or_else(|| state.config.admin_email.clone()) else {
        return Err(admin_email_unresolvable());
    };
    if is_no_reply(state, &email) {
        return Err(ApiError::invalid_field(
            "contactEmail",
            "must be a person's address, not the no-reply sender (MAIL_FROM)",
        ));
    }
    let key = mint_federation_key(state).await?;
    let name = match contact.display_name {
        Some(n) => n,
        None => db::settings::brand_name(state.db.pool(), &state.config.brand_name).await?,
    };
    let body = signup_body(
        state,
        &key.plaintext,
        &name,
        &email,
        contact.name.as_deref(),
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
            return Err(network_error(
                "network_signup_refused",
                "network_signup_failed",
                &e,
            ));
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
        NewKey::Minted(key.row.id.as_str()),
    )
    .await?;
    Ok(vendor_id.to_string())
}

fn is_no_reply(state: &AppState, email: &str) -> bool {
    state
        .config
        .mail_from
        .email
        .to_string()
        .eq_ignore_ascii_case(email)
}

/// Self-host: asks the Network to email a verification link to `contact_email`.
pub async fn start(
    state: &AppState,
    contact_email: &str,
    contact_name: Option<&str>,
    display_name: Option<&str>,
) -> ApiResult<Started> {
    encryption_key(state)?;
    let key = mint_federation_key(state).await?;
    let display = match display_name {
        Some(n) => n.to_string(),
        None => db::settings::brand_name(state.db.pool(), &state.config.brand_name).await?,
    };
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
            return Err(network_error(
                "network_signup_refused",
                "network_signup_failed",
                &e,
            ));
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
    let earlier = db::network::get(state.db.pool())
        .await?
        .pending_scoped_key_id;
    db::network::set_pending(&state.db, vendor_id, key.row.id.as_str(), state.clock.now()).await?;
    revoke_key(state, earlier.as_deref()).await?;
    Ok(Started {
        vendor_id: vendor_id.to_string(),
        status: answer["status"].as_str().unwrap_or("pending").to_string(),
        email_sent: answer["emailSent"].as_bool().unwrap_or(false),
    })
}

fn no_pending_connect() -> ApiError {
    ApiError::conflict(
        "no_pending_connect",
        "No connect is waiting for verification. Start one with POST /config/network/start-connect.",
    )
}

/// Self-host, last step (an admin's call): the emailed token proves the address; it must
/// belong to the vendor this instance's own start-connect is waiting for. Anything else (no
/// pending connect, another vendor's token) changes nothing: not the connection, not the
/// federation key.
pub async fn complete(state: &AppState, ntoken: &str) -> ApiResult<Completed> {
    encryption_key(state)?;
    let Some(pending) = db::network::get(state.db.pool()).await?.pending_vendor_id else {
        return Err(no_pending_connect());
    };
    let answer = state
        .network
        .post(
            "/vendors/verify-and-issue-token",
            None,
            &json!({ "token": ntoken }),
            VERIFY_TIMEOUT,
        )
        .await
        // Unknown, used or expired: the caller's token is wrong, not our upstream.
        .map_err(|e| network_error("invalid_connect_token", "network_verify_failed", &e))?;
    let (Some(vendor_id), Some(token)) =
        (answer["vendorId"].as_str(), answer["vendorToken"].as_str())
    else {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "network_verify_failed",
            "The Network answered without a vendor token.",
        ));
    };
    if vendor_id != pending {
        tracing::warn!(%pending, verified = %vendor_id, "complete-connect refused: the token belongs to another vendor");
        return Err(ApiError::conflict(
            "vendor_mismatch",
            "This verification link belongs to another vendor than the connect this instance started. Nothing was changed.",
        ));
    }
    let display = match answer["displayName"].as_str() {
        Some(n) => n.to_string(),
        None => db::settings::brand_name(state.db.pool(), &state.config.brand_name).await?,
    };
    finish(
        state,
        vendor_id,
        token,
        &display,
        tier(state),
        NewKey::PendingFor(&pending),
    )
    .await?
    .ok_or_else(no_pending_connect)?;
    Ok(Completed {
        vendor_id: vendor_id.to_string(),
        display_name: display,
    })
}
