//! The Network connection, brand side: connecting (hosted one-click or self-host email
//! verify), the listing heartbeat, offerings, and (later) partner sync.

pub mod backfill;
pub mod client;
pub mod connect;
pub mod heartbeat;
pub mod offerings;
pub mod sync;

use crate::db;
use crate::db::network::Connection;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// The federation key's scopes (protocol §2).
pub const FEDERATION_SCOPES: [&str; 5] = [
    "partners:read",
    "partners:write",
    "links:write",
    "commissions:read",
    "clicks:write",
];

/// The retry job (`OPENPARTNER_OUTBOX_CRON`, every 5 minutes by default): re-sends what
/// failed to reach the Network.
pub async fn sync_job(state: &AppState) {
    match sync::drain(state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(pushes = n, "partner pushes retried"),
        Err(e) => tracing::warn!(error = %e, "partner push drain failed"),
    }
    backfill::resume(state).await;
    match offerings::sync(state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(programs = n, "offerings synced"),
        Err(e) => tracing::warn!(error = %e, "offering sync failed"),
    }
}

/// The Network host shown to the admin.
pub fn network_host(state: &AppState) -> String {
    url::Url::parse(&state.config.network_url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .unwrap_or_else(|| state.config.network_url.clone())
}

pub fn tier(state: &AppState) -> &'static str {
    if state.config.network_admin_api_key.is_some() {
        "hosted"
    } else {
        "self_hosted"
    }
}

/// Why there is no vendor token to call the Network with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("network_not_configured")]
    NotConnected,
    #[error("secrets_encryption_key_missing: SECRETS_ENCRYPTION_KEY is not set")]
    KeyMissing,
    #[error("vendor_token_unreadable: SECRETS_ENCRYPTION_KEY does not match the stored token")]
    Unreadable,
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::NotConnected => ApiError::unavailable(
                "network_not_configured",
                "This instance is not connected to the OpenPartner Network.",
            ),
            other => ApiError::unavailable("network_not_configured", other.to_string()),
        }
    }
}

/// The decrypted vendor token of a connected instance.
pub fn vendor_token(state: &AppState, conn: &Connection) -> Result<String, TokenError> {
    let Some(enc) = conn
        .vendor_token_enc
        .as_deref()
        .filter(|_| conn.connected())
    else {
        return Err(TokenError::NotConnected);
    };
    let Some(key) = &state.config.encryption_key else {
        return Err(TokenError::KeyMissing);
    };
    crate::secrets::decrypt(key.expose(), enc).ok_or(TokenError::Unreadable)
}

/// The connection and its token, or 503 `network_not_configured`.
pub async fn connected(state: &AppState) -> ApiResult<(Connection, String)> {
    let network = db::network::get(state.db.pool()).await?;
    let token = vendor_token(state, &network)?;
    Ok((network, token))
}
