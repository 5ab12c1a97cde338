//! The listing heartbeat: `partnerCount`, `lastEventAt`, `logoUrl` to `/vendors/me/heartbeat`.
//! Sent by the cron (`OPENPARTNER_HEARTBEAT_CRON`, each slot once across replicas), on demand
//! ("Push update to marketplace now", synchronously), and in the background when the admin
//! page loads or a logo is uploaded (at most one in flight; extra triggers coalesce into one
//! more). There is no outbox: a failed heartbeat is simply re-sent on the next trigger.

use serde_json::json;

use crate::db;
use crate::network::client::PUSH_TIMEOUT;
use crate::network::vendor_token;
use crate::state::AppState;

/// The result, with the exact reason of a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent { partner_count: i64 },
    Failed(String),
}

/// Sends one heartbeat now and records its outcome.
pub async fn send(state: &AppState) -> Outcome {
    let outcome = attempt(state).await;
    let (sent, reason) = match &outcome {
        Outcome::Sent { .. } => (true, None),
        Outcome::Failed(r) => (false, Some(r.as_str())),
    };
    if outcome != Outcome::Failed("network_not_configured".into()) {
        if let Err(e) =
            db::network::record_heartbeat(state.db.pool(), state.clock.now(), sent, reason).await
        {
            tracing::warn!(error = %e, "could not record the heartbeat result");
        }
    }
    if matches!(outcome, Outcome::Sent { .. }) {
        metrics::gauge!(crate::instruments::HEARTBEAT_LAST_SUCCESS)
            .set(state.clock.now().millis() as f64 / 1000.0);
    }
    match &outcome {
        Outcome::Sent { partner_count } => tracing::info!(partner_count, "heartbeat sent"),
        Outcome::Failed(reason) => tracing::warn!(%reason, "heartbeat failed"),
    }
    outcome
}

async fn attempt(state: &AppState) -> Outcome {
    let network = match db::network::get(state.db.pool()).await {
        Ok(c) => c,
        Err(e) => return Outcome::Failed(format!("local_partner_count_failed: {e}")),
    };
    let token = match vendor_token(state, &network) {
        Ok(t) => t,
        Err(reason) => return Outcome::Failed(reason.to_string()),
    };
    let partner_count = match db::network::count_live_partners(state.db.pool()).await {
        Ok(n) => n,
        Err(e) => return Outcome::Failed(format!("local_partner_count_failed: {e}")),
    };
    let last_event_at = match db::events::last_at(state.db.pool()).await {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(format!("local_last_event_failed: {e}")),
    };
    let logo_url = match crate::uploads::logo_version(&state.db).await {
        Some(v) => crate::uploads::logo_url(&state.config.public_url, v),
        None => String::new(),
    };
    let mut body = json!({ "partnerCount": partner_count, "logoUrl": logo_url });
    if let Some(at) = last_event_at {
        body["lastEventAt"] = json!(at);
    }
    match state
        .network
        .post("/vendors/me/heartbeat", Some(&token), &body, PUSH_TIMEOUT)
        .await
    {
        Ok(_) => Outcome::Sent { partner_count },
        Err(e) => Outcome::Failed(e.reason()),
    }
}

/// Fires a heartbeat in the background, never delaying the caller. While one is in flight,
/// further triggers coalesce into a single follow-up.
pub fn trigger(state: &AppState) {
    let job_state = state.clone();
    state.heartbeat.fire(move || {
        let state = job_state.clone();
        async move {
            send(&state).await;
        }
    });
}

/// The cron job: claims the slot in the database (so with several replicas each slot fires
/// once in total), then sends.
pub async fn scheduled(state: &AppState) {
    let Some(slot) = current_slot(&state.config.heartbeat_cron) else {
        return;
    };
    match db::jobs::claim_slot(state.db.pool(), "heartbeat", slot, state.clock.now()).await {
        Ok(true) => {
            send(state).await;
        }
        Ok(false) => tracing::debug!(slot, "heartbeat slot taken by another replica"),
        Err(e) => tracing::warn!(error = %e, "could not claim the heartbeat slot"),
    }
}

/// The scheduled time (epoch ms) of the tick being run: the latest occurrence at or before now.
pub fn current_slot(expr: &str) -> Option<i64> {
    crate::domain::cron::parse(expr)?
        .find_previous_occurrence(&chrono::Utc::now(), true)
        .ok()
        .map(|t| t.timestamp_millis())
}
