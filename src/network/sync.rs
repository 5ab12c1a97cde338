//! Pushing partners to the Network (`/partners/upsert`), deduplicated there by email.
//!
//! A change is enqueued in the transaction that makes it (transactional outbox), then tried at
//! once with the 5 s timeout. Whatever fails waits in the outbox for the drain job
//! (`OPENPARTNER_OUTBOX_CRON`) with backoff 30 s … 12 h, then `dead`. While the vendor is
//! suspended, rows wait untouched: a drain that meets a suspension stops, and the next one asks
//! `GET /vendors/me` before it sends anything. The request that caused a push never fails
//! because of it.

use serde_json::{Value, json};

use crate::db;
use crate::db::Tx;
use crate::db::network::Connection;
use crate::db::outbox::OutboxRow;
use crate::db::partners::Partner;
use crate::domain::backoff;
use crate::domain::ids::PartnerId;
use crate::domain::network::VendorStatus;
use crate::domain::partners::PartnerSource;
use crate::network::client::{ADMIN_TIMEOUT, CallError, PUSH_TIMEOUT};
use crate::network::vendor_token;
use crate::state::AppState;

/// How long a deliverer holds a claimed row (longer than one push can take).
const LEASE_MS: i64 = 60_000;

/// Why a partner is being pushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Revoked,
    Reinstated,
}

/// `metadata.source` as the protocol names it.
fn wire_source(partner: &Partner) -> &'static str {
    match partner.source {
        PartnerSource::SelfSignup => "self_signup",
        PartnerSource::AdminInvite | PartnerSource::Network => "admin_invite",
    }
}

/// The upsert body for a partner's current state.
pub fn payload(partner: &Partner, source: &str) -> Value {
    let status = if partner.revoked_at.is_some() {
        "revoked"
    } else if partner.activated_at.is_some() {
        "active"
    } else {
        "pending"
    };
    let mut body = json!({
        "vendorPartnerId": partner.id,
        "email": partner.email,
        "name": partner.name,
        "joinedVendorAt": partner.created_at,
        "status": status,
        "metadata": { "source": source },
    });
    if let Some(profile) = partner
        .profile
        .as_deref()
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
    {
        body["profile"] = profile;
    }
    if let Some(at) = partner.revoked_at {
        body["revokedAt"] = json!(at);
    }
    body
}

/// Enqueues the partner's state in `tx` if this change is pushed: creations only with
/// auto-enroll on (and never a partner the Network created), revoke and reinstate whenever
/// connected. `conn` is read by the caller before its transaction (a transaction must not
/// wait on a second pool connection). Returns whether a push was queued.
pub async fn enqueue(
    state: &AppState,
    tx: &mut Tx,
    conn: &Connection,
    partner: &Partner,
    change: Change,
) -> sqlx::Result<bool> {
    let wanted = conn.connected()
        && match change {
            Change::Created => conn.auto_enroll && partner.source != PartnerSource::Network,
            Change::Revoked | Change::Reinstated => true,
        };
    if !wanted {
        return Ok(false);
    }
    let source = wire_source(partner);
    db::outbox::upsert(
        &mut **tx,
        &partner.id,
        &payload(partner, source).to_string(),
        source,
        state.clock.now(),
    )
    .await?;
    Ok(true)
}

/// Tries the partner's pending push now (after its transaction committed).
pub async fn push_now(state: &AppState, partner: &PartnerId) {
    let now = state.clock.now();
    match db::outbox::claim_for_partner(state.db.pool(), partner, now, now.plus_millis(LEASE_MS))
        .await
    {
        Ok(Some(row)) => {
            deliver(state, row).await;
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not claim a partner push; the drain job will"),
    }
}

/// Result of one upsert that reached the Network.
pub struct Upserted {
    pub creator_id: String,
    pub pre_existing: bool,
    pub affiliations: i64,
}

/// Sends one upsert and stores what the Network said on the partner.
pub async fn upsert(
    state: &AppState,
    token: &str,
    partner: &PartnerId,
    body: &Value,
) -> Result<Upserted, CallError> {
    let answer = state
        .network
        .post("/partners/upsert", Some(token), body, PUSH_TIMEOUT)
        .await?;
    let up = Upserted {
        creator_id: answer["networkCreatorId"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        pre_existing: answer["alreadyExisted"].as_bool().unwrap_or(false),
        affiliations: answer["affiliations"]
            .as_array()
            .map_or(0, |a| a.len() as i64),
    };
    if !up.creator_id.is_empty() {
        if let Err(e) = db::outbox::set_partner_network(
            state.db.pool(),
            partner,
            &up.creator_id,
            up.pre_existing,
            up.affiliations,
            state.clock.now(),
        )
        .await
        {
            tracing::warn!(error = %e, "could not store the Network identity of a partner");
        }
    }
    Ok(up)
}

/// Whether the Network refused because the vendor is suspended (rows then wait).
pub fn is_suspended(e: &CallError) -> bool {
    matches!(e, CallError::Status { status: 403, body } if body.contains("suspended"))
}

/// What became of a claimed row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Delivered, or its failure recorded with its next attempt.
    Settled,
    /// Given back untouched: the vendor is suspended (or the connection unusable). Nothing is
    /// sent until a status check (`GET /vendors/me`) says otherwise, so the caller stops.
    Parked,
}

/// Delivers one claimed row.
async fn deliver(state: &AppState, row: OutboxRow) -> Delivery {
    let network = match db::network::get(state.db.pool()).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the Network connection");
            let _ = db::outbox::release(state.db.pool(), &row.id).await;
            return Delivery::Parked;
        }
    };
    let token = match vendor_token(state, &network) {
        Ok(t) if network.status != Some(VendorStatus::Suspended) => t,
        _ => {
            let _ = db::outbox::release(state.db.pool(), &row.id).await;
            return Delivery::Parked;
        }
    };
    let body: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
    let now = state.clock.now();
    let (saved, delivery) = match upsert(state, &token, &row.partner_id, &body).await {
        Ok(_) => {
            metrics::counter!(crate::instruments::NETWORK_PUSHES, "outcome" => "delivered")
                .increment(1);
            (
                db::outbox::mark_delivered(&state.db, &row, now)
                    .await
                    .map(|_| ()),
                Delivery::Settled,
            )
        }
        Err(e) if is_suspended(&e) => {
            tracing::warn!("the Network says this vendor is suspended; partner pushes wait");
            let _ = db::network::set_vendor_status(state.db.pool(), &VendorStatus::Suspended, None)
                .await;
            (
                db::outbox::release(state.db.pool(), &row.id).await,
                Delivery::Parked,
            )
        }
        Err(e) => {
            let next = backoff::next_attempt(row.attempts as u32, now);
            let outcome = if next.is_none() { "dead" } else { "failed" };
            metrics::counter!(crate::instruments::NETWORK_PUSHES, "outcome" => outcome)
                .increment(1);
            tracing::warn!(partner = %row.partner_id, attempts = row.attempts + 1, reason = %e,
                dead = next.is_none(), "partner push failed");
            (
                db::outbox::mark_failed(&state.db, &row, &e.reason(), next, now).await,
                Delivery::Settled,
            )
        }
    };
    if let Err(e) = saved {
        tracing::error!(error = %e, "could not record a partner push result");
    }
    delivery
}

/// The drain job's body: delivers every due row. Returns how many were attempted.
pub async fn drain(state: &AppState) -> anyhow::Result<usize> {
    let network = db::network::get(state.db.pool()).await?;
    let Ok(token) = vendor_token(state, &network) else {
        return Ok(0);
    };
    if network.status == Some(VendorStatus::Suspended) {
        // Learn whether the suspension was lifted; until then rows wait.
        match state
            .network
            .get("/vendors/me", &token, ADMIN_TIMEOUT)
            .await
        {
            Ok(me)
                if me["status"]
                    .as_str()
                    .is_some_and(|s| VendorStatus::parse(s) != VendorStatus::Suspended) =>
            {
                let status = me["status"]
                    .as_str()
                    .map_or(VendorStatus::Active, VendorStatus::parse);
                db::network::set_vendor_status(state.db.pool(), &status, None).await?;
            }
            _ => return Ok(0),
        }
    }
    let mut attempted = 0;
    loop {
        let now = state.clock.now();
        let batch = db::outbox::claim_due(&state.db, now, now.plus_millis(LEASE_MS), 100).await?;
        if batch.is_empty() {
            return Ok(attempted);
        }
        let mut rows = batch.into_iter();
        while let Some(row) = rows.next() {
            attempted += 1;
            if deliver(state, row).await == Delivery::Parked {
                // A released row is due again at once: going on would claim it again without
                // end. The rest of the batch waits with it for the next status check.
                for rest in rows {
                    db::outbox::release(state.db.pool(), &rest.id).await?;
                }
                return Ok(attempted);
            }
        }
    }
}
