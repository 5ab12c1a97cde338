//! The Network panel's data (`/admin/network/me`) and "Push update to marketplace now".

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::network::VendorStatus;
use crate::domain::time::Timestamp;
use crate::error::{ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::network::client::{VERIFY_TIMEOUT, kept, pass_through};
use crate::network::heartbeat::{self, Outcome};
use crate::network::{network_host, vendor_token};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(push_now))
}

/// The Network panel: `{connected: false}` (with `pendingVendorId` while a self-host signup
/// awaits verification), or the connection's state.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum NetworkPanel {
    NotConnected(NotConnectedPanel),
    Connected(Box<ConnectedPanel>),
}

/// Closed (`additionalProperties: false`), so a connected panel never also matches it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NotConnectedPanel {
    /// `false`.
    connected: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pending_vendor_id: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectedPanel {
    /// `true`.
    connected: bool,
    network_host: String,
    vendor_id: Option<String>,
    display_name: Option<String>,
    /// The listing's status on the Network: `active`, `suspended`, `cancelled`.
    status: Option<String>,
    tier: Option<String>,
    /// Partners not revoked (pending included): the heartbeat's `partnerCount`.
    active_partner_count: i64,
    auto_enroll: bool,
    last_heartbeat: LastHeartbeat,
    /// What the Network says about this vendor (`GET /vendors/me`), when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    network: Option<NetworkVendorView>,
    /// Why the Network could not be asked, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    network_error: Option<String>,
    /// Partner pushes waiting for a retry, and given up.
    #[schema(value_type = PanelOutbox)]
    outbox: Value,
    /// The latest backfill (`{runId: null, status: "none"}` before the first).
    #[schema(value_type = PanelBackfill)]
    backfill: Value,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LastHeartbeat {
    at: Option<Timestamp>,
    sent: Option<bool>,
    /// Why the last one was not sent.
    reason: Option<String>,
}

/// The push outbox's counts (documentation of the panel's `outbox`).
#[derive(Serialize, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PanelOutbox {
    pending: i64,
    dead: i64,
}

/// The latest backfill run (documentation of the panel's `backfill`).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PanelBackfill {
    run_id: Option<String>,
    /// `none`, `running` or `done`.
    status: String,
    total: Option<i64>,
    pushed: Option<i64>,
    pre_existing: Option<i64>,
    queued: Option<i64>,
    failed: Option<i64>,
    started_at: Option<Timestamp>,
    finished_at: Option<Timestamp>,
}

/// This vendor as the Network describes it, passed on as it came: the fields we know, and
/// any other the Network adds.
#[derive(Serialize, Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NetworkVendorView {
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    id: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    display_name: Option<Value>,
    /// `active`, `suspended` or `cancelled`.
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    status: Option<Value>,
    #[serde(
        default,
        deserialize_with = "kept",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<i64>)]
    partner_count: Option<Value>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// The Network panel: connection, listing status, last heartbeat. Each load also fires a
/// heartbeat in the background.
#[utoipa::path(get, path = "/admin/network/me", tag = "network", security(("bearer" = [])),
    responses((status = 200, body = NetworkPanel),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn me(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<NetworkPanel>> {
    auth.require_admin()?;
    let conn = db::network::get(state.db.pool()).await?;
    if !conn.connected() {
        return Ok(Json(NetworkPanel::NotConnected(NotConnectedPanel {
            connected: false,
            pending_vendor_id: conn.pending_vendor_id,
        })));
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
                    db::network::set_vendor_status(
                        state.db.pool(),
                        &VendorStatus::parse(status),
                        v["displayName"].as_str(),
                    )
                    .await?;
                }
                (Some(pass_through(v)), None)
            }
            Err(e) => (None, Some(e.reason())),
        },
        Err(reason) => (None, Some(reason.to_string())),
    };
    let conn = db::network::get(state.db.pool()).await?;
    let mut figures =
        serde_json::to_value(crate::http::network::outbox::panel_figures(&state).await?)
            .unwrap_or_default();
    Ok(Json(NetworkPanel::Connected(Box::new(ConnectedPanel {
        connected: true,
        network_host: network_host(&state),
        vendor_id: conn.vendor_id,
        display_name: conn.display_name,
        status: conn.status.map(|s| s.as_str().to_string()),
        tier: conn.tier,
        active_partner_count: db::network::count_live_partners(state.db.pool()).await?,
        auto_enroll: conn.auto_enroll,
        last_heartbeat: LastHeartbeat {
            at: conn.last_heartbeat_at,
            sent: conn.last_heartbeat_sent,
            reason: conn.last_heartbeat_reason,
        },
        network,
        network_error,
        outbox: figures["outbox"].take(),
        backfill: figures["backfill"].take(),
    }))))
}

/// What "Push update to marketplace now" did.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PushAnswer {
    sent: bool,
    /// When sent: the partner count the Network received.
    #[serde(skip_serializing_if = "Option::is_none")]
    partner_count: Option<i64>,
    /// When not sent: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

/// "Push update to marketplace now": sends a heartbeat synchronously and says exactly what
/// happened.
#[utoipa::path(post, path = "/admin/network/heartbeat", tag = "network", security(("bearer" = [])),
    responses((status = 200, description = "`{sent: true, partnerCount}` or `{sent: false, reason}`", body = PushAnswer),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn push_now(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<PushAnswer>> {
    auth.require_admin()?;
    let answer = match heartbeat::send(&state).await {
        Outcome::Sent { partner_count } => PushAnswer {
            sent: true,
            partner_count: Some(partner_count),
            reason: None,
        },
        Outcome::Failed(reason) => PushAnswer {
            sent: false,
            partner_count: None,
            reason: Some(reason),
        },
    };
    let change = crate::db::audit::Change {
        action: "network.heartbeat",
        target_type: "network_connection",
        target_id: "network",
        changes: serde_json::json!({
            "sent": {"before": null, "after": answer.sent},
            "partnerCount": {"before": null, "after": answer.partner_count},
        }),
    };
    db::audit::record_action(&state.db, change, state.clock.now()).await?;
    Ok(Json(answer))
}
