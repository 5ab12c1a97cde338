//! The Network connection row (`db::network::get`) and the counts the heartbeat sends.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec};
use crate::domain::network::VendorStatus;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone, Default)]
pub struct Connection {
    pub vendor_id: Option<String>,
    pub vendor_token_enc: Option<String>,
    pub display_name: Option<String>,
    pub status: Option<VendorStatus>,
    pub tier: Option<String>,
    pub scoped_key_id: Option<String>,
    pub pending_vendor_id: Option<String>,
    pub pending_scoped_key_id: Option<String>,
    pub auto_enroll: bool,
    pub connected_at: Option<Timestamp>,
    pub last_heartbeat_at: Option<Timestamp>,
    pub last_heartbeat_sent: Option<bool>,
    pub last_heartbeat_reason: Option<String>,
}

impl Connection {
    pub fn connected(&self) -> bool {
        self.vendor_id.is_some() && self.vendor_token_enc.is_some()
    }
}

/// What a completed connect stores.
pub struct Connected<'a> {
    pub vendor_id: &'a str,
    pub token_enc: &'a str,
    pub display_name: &'a str,
    pub tier: &'a str,
    pub key: NewKey<'a>,
}

/// Where the connection's new federation key comes from.
pub enum NewKey<'a> {
    /// Hosted one-click: the key minted for this connect (its id).
    Minted(&'a str),
    /// Self-host: the key minted at start-connect, held while the pending vendor (this id)
    /// awaited its emailed verification. The row must still await exactly this vendor.
    PendingFor(&'a str),
}

const SELECT_CONNECTION: &str = "SELECT vendor_id, vendor_token_enc, display_name, status, tier, \
    scoped_key_id, pending_vendor_id, pending_scoped_key_id, auto_enroll, connected_at, last_heartbeat_at, \
    last_heartbeat_sent, last_heartbeat_reason FROM network_connection WHERE id = 1";

impl FromRow<'_, AnyRow> for Connection {
    fn from_row(r: &AnyRow) -> sqlx::Result<Connection> {
        Ok(Connection {
            vendor_id: r.try_get("vendor_id")?,
            vendor_token_enc: r.try_get("vendor_token_enc")?,
            display_name: r.try_get("display_name")?,
            status: r
                .try_get::<Option<String>, _>("status")?
                .as_deref()
                .map(VendorStatus::parse),
            tier: r.try_get("tier")?,
            scoped_key_id: r.try_get("scoped_key_id")?,
            pending_vendor_id: r.try_get("pending_vendor_id")?,
            pending_scoped_key_id: r.try_get("pending_scoped_key_id")?,
            auto_enroll: r.try_get::<i64, _>("auto_enroll")? != 0,
            connected_at: r
                .try_get::<Option<i64>, _>("connected_at")?
                .map(Timestamp::from_millis),
            last_heartbeat_at: r
                .try_get::<Option<i64>, _>("last_heartbeat_at")?
                .map(Timestamp::from_millis),
            last_heartbeat_sent: r
                .try_get::<Option<i64>, _>("last_heartbeat_sent")?
                .map(|v| v != 0),
            last_heartbeat_reason: r.try_get("last_heartbeat_reason")?,
        })
    }
}

/// The Network connection row (the single row of `network_connection`).
pub async fn get<'e>(ex: impl Exec<'e>) -> sqlx::Result<Connection> {
    sqlx::query_as(SELECT_CONNECTION).fetch_one(ex).await
}

/// A self-host signup awaiting the emailed verification.
pub async fn set_pending(
    db: &Db,
    vendor_id: &str,
    scoped_key_id: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "UPDATE network_connection SET pending_vendor_id = $1, pending_scoped_key_id = $2, updated_at = $3 WHERE id = 1",
    )
    .bind(vendor_id)
    .bind(scoped_key_id)
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    let change = super::audit::Change {
        action: "network.start_connect",
        target_type: "network_connection",
        target_id: vendor_id,
        changes: serde_json::json!({"pendingVendorId": {"before": null, "after": vendor_id}}),
    };
    super::audit::append(&mut tx, change, now).await?;
    tx.commit().await
}

/// Stores a completed connect and, in the same transaction, revokes the federation keys it
/// replaces (the live one, and a pending one a one-click connect overtakes): the old key
/// stops working only once the new connection is stored. Returns the revoked key ids, or
/// `None` with nothing changed when a self-host completion no longer matches the pending
/// vendor.
pub async fn store(
    db: &Db,
    c: &Connected<'_>,
    now: Timestamp,
) -> sqlx::Result<Option<Vec<String>>> {
    let mut tx = db.begin().await?;
    // Takes the row lock first (PostgreSQL), so what is read next is what gets replaced.
    sqlx::query("UPDATE network_connection SET updated_at = $1 WHERE id = 1")
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
    let row = sqlx::query(
        "SELECT scoped_key_id, pending_vendor_id, pending_scoped_key_id FROM network_connection WHERE id = 1",
    )
    .fetch_one(&mut *tx)
    .await?;
    let live: Option<String> = row.try_get(0)?;
    let pending_vendor: Option<String> = row.try_get(1)?;
    let pending_key: Option<String> = row.try_get(2)?;
    let new_key = match c.key {
        NewKey::Minted(id) => Some(id.to_string()),
        NewKey::PendingFor(vendor) if pending_vendor.as_deref() == Some(vendor) => {
            pending_key.clone()
        }
        NewKey::PendingFor(_) => {
            tx.rollback().await?;
            return Ok(None);
        }
    };
    sqlx::query(
        "UPDATE network_connection SET vendor_id = $1, vendor_token_enc = $2, display_name = $3, \
         tier = $4, scoped_key_id = $5, status = 'active', pending_vendor_id = NULL, \
         pending_scoped_key_id = NULL, connected_at = $6, updated_at = $6 WHERE id = 1",
    )
    .bind(c.vendor_id)
    .bind(c.token_enc)
    .bind(c.display_name)
    .bind(c.tier)
    .bind(new_key.as_deref())
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    let mut revoked = Vec::new();
    for old in [live, pending_key].into_iter().flatten() {
        if Some(&old) == new_key.as_ref() || revoked.contains(&old) {
            continue;
        }
        sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now.millis())
            .bind(&old)
            .execute(&mut *tx)
            .await?;
        revoked.push(old);
    }
    // Never the vendor token (ciphertext or not).
    let changes = serde_json::json!({
        "vendorId": {"before": null, "after": c.vendor_id},
        "displayName": {"before": null, "after": c.display_name},
        "tier": {"before": null, "after": c.tier},
        "status": {"before": null, "after": "active"},
    });
    let change = super::audit::Change {
        action: "network.connect",
        target_type: "network_connection",
        target_id: c.vendor_id,
        changes,
    };
    super::audit::append(&mut tx, change, now).await?;
    tx.commit().await?;
    Ok(Some(revoked))
}

pub async fn set_auto_enroll(db: &Db, on: bool, now: Timestamp) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    let before: i64 = sqlx::query("SELECT auto_enroll FROM network_connection WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?
        .try_get(0)?;
    sqlx::query("UPDATE network_connection SET auto_enroll = $1, updated_at = $2 WHERE id = 1")
        .bind(i64::from(on))
        .bind(now.millis())
        .execute(&mut *tx)
        .await?;
    let change = super::audit::Change {
        action: "network.update",
        target_type: "network_connection",
        target_id: "network",
        changes: serde_json::json!({"autoEnroll": {"before": before != 0, "after": on}}),
    };
    super::audit::append(&mut tx, change, now).await?;
    tx.commit().await
}

pub async fn set_vendor_status<'e>(
    ex: impl Exec<'e>,
    status: &VendorStatus,
    display_name: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE network_connection SET status = $1, display_name = COALESCE($2, display_name) WHERE id = 1",
    )
    .bind(status.as_str())
    .bind(display_name)
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn record_heartbeat<'e>(
    ex: impl Exec<'e>,
    at: Timestamp,
    sent: bool,
    reason: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE network_connection SET last_heartbeat_at = $1, last_heartbeat_sent = $2, \
         last_heartbeat_reason = $3 WHERE id = 1",
    )
    .bind(at.millis())
    .bind(i64::from(sent))
    .bind(reason)
    .execute(ex)
    .await?;
    Ok(())
}

/// Partners not revoked (pending included): the heartbeat's `partnerCount`. Kept by
/// triggers in `partner_counts` (migration 0008), so this reads at most 16 rows.
pub async fn count_live_partners<'e>(ex: impl Exec<'e>) -> sqlx::Result<i64> {
    sqlx::query("SELECT CAST(COALESCE(SUM(live), 0) AS BIGINT) FROM partner_counts")
        .fetch_one(ex)
        .await?
        .try_get(0)
}
