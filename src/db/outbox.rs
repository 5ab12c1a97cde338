//! The partner push outbox: at most one pending row per partner (a newer state replaces the
//! payload and bumps `version`), claimed with a lease so one replica delivers a row at a time
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL), retried with backoff, then `dead`.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec};
use crate::domain::ids::PartnerId;
use crate::domain::network::OutboxStatus;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: String,
    pub partner_id: PartnerId,
    pub payload: String,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub version: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLUMNS: &str = "id, partner_id, payload, status, attempts, version, next_attempt_at, last_error, created_at, updated_at";

impl FromRow<'_, AnyRow> for OutboxRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<OutboxRow> {
        Ok(OutboxRow {
            id: r.try_get("id")?,
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            payload: r.try_get("payload")?,
            status: super::decode(
                "network_outbox.status",
                r.try_get("status")?,
                OutboxStatus::parse,
            )?,
            attempts: r.try_get("attempts")?,
            version: r.try_get("version")?,
            next_attempt_at: Timestamp::from_millis(r.try_get("next_attempt_at")?),
            last_error: r.try_get("last_error")?,
            created_at: Timestamp::from_millis(r.try_get("created_at")?),
            updated_at: Timestamp::from_millis(r.try_get("updated_at")?),
        })
    }
}

/// Queues the partner's latest state, replacing a pending one (which keeps its lease, so a
/// delivery in flight is never raced by a second one).
pub async fn upsert<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    payload: &str,
    source: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO network_outbox (id, partner_id, payload, source, status, next_attempt_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'pending', $5, $5, $5) \
         ON CONFLICT (partner_id) WHERE status = 'pending' DO UPDATE SET \
         payload = excluded.payload, source = excluded.source, version = network_outbox.version + 1, \
         attempts = 0, next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at",
    )
    .bind(ulid::Ulid::new().to_string())
    .bind(partner.as_str())
    .bind(payload)
    .bind(source)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(())
}

/// Claims the partner's pending row, if nobody holds it.
pub async fn claim_for_partner<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    now: Timestamp,
    lease_until: Timestamp,
) -> sqlx::Result<Option<OutboxRow>> {
    sqlx::query_as(&format!(
        "UPDATE network_outbox SET locked_until = $1 \
         WHERE partner_id = $2 AND status = 'pending' AND locked_until <= $3 RETURNING {COLUMNS}"
    ))
    .bind(lease_until.millis())
    .bind(partner.as_str())
    .bind(now.millis())
    .fetch_optional(ex)
    .await
}

/// Claims up to `limit` due rows.
pub async fn claim_due(
    db: &Db,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    db.claim_due("network_outbox", COLUMNS, now, lease_until, limit)
        .await
}

/// Marks a delivered row done, if no newer state replaced it meanwhile. Otherwise releases
/// it so the newer state goes next. True when done.
pub async fn mark_delivered(db: &Db, row: &OutboxRow, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE network_outbox SET status = 'done', locked_until = 0, attempts = attempts + 1, \
         last_error = NULL, updated_at = $1 WHERE id = $2 AND version = $3",
    )
    .bind(now.millis())
    .bind(&row.id)
    .bind(row.version)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 1 {
        return Ok(true);
    }
    release(db.pool(), &row.id).await?;
    Ok(false)
}

/// Records a failed attempt: retried at `next`, or `dead` when `None`. A row whose payload
/// was replaced meanwhile is released for the newer state instead.
pub async fn mark_failed(
    db: &Db,
    row: &OutboxRow,
    error: &str,
    next: Option<Timestamp>,
    now: Timestamp,
) -> sqlx::Result<()> {
    let done = sqlx::query(
        "UPDATE network_outbox SET attempts = attempts + 1, last_error = $1, locked_until = 0, \
         status = CASE WHEN $2 = 1 THEN 'pending' ELSE 'dead' END, \
         next_attempt_at = COALESCE($3, next_attempt_at), updated_at = $4 \
         WHERE id = $5 AND version = $6",
    )
    .bind(error)
    .bind(i64::from(next.is_some()))
    .bind(next.map(Timestamp::millis))
    .bind(now.millis())
    .bind(&row.id)
    .bind(row.version)
    .execute(db.pool())
    .await?;
    if done.rows_affected() == 0 {
        release(db.pool(), &row.id).await?;
    }
    Ok(())
}

/// Gives a claimed row back untouched (e.g. while the vendor is suspended).
pub async fn release<'e>(ex: impl Exec<'e>, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE network_outbox SET locked_until = 0 WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

pub async fn list<'e>(
    ex: impl Exec<'e>,
    status: OutboxStatus,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM network_outbox WHERE status = $1 ORDER BY updated_at DESC, id DESC LIMIT $2"
    ))
    .bind(status.as_str())
    .bind(limit)
    .fetch_all(ex)
    .await
}

pub async fn get<'e>(ex: impl Exec<'e>, id: &str) -> sqlx::Result<Option<OutboxRow>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM network_outbox WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// A dead row back to pending, due now. False when it is not dead or a newer push for the
/// same partner is already pending (a unique violation the caller maps).
pub async fn revive(db: &Db, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let revived = super::requeue_audited(
        &mut tx,
        "UPDATE network_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, \
         locked_until = 0, updated_at = $1 WHERE id = $2 AND status = 'dead'",
        ("network.outbox_retry", "network_push"),
        id,
        Some("dead"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(revived)
}

/// (pending, dead).
pub async fn counts<'e>(ex: impl Exec<'e>) -> sqlx::Result<(i64, i64)> {
    let r = sqlx::query(
        "SELECT CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) AS BIGINT) FROM network_outbox \
         WHERE status <> 'done'",
    )
    .fetch_one(ex)
    .await?;
    Ok((r.try_get(0)?, r.try_get(1)?))
}

/// Stores what the Network said about a pushed partner.
pub async fn set_partner_network<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    creator_id: &str,
    pre_existing: bool,
    affiliations: i64,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE partners SET network_creator_id = $1, network_pre_existing = $2, network_affiliations = $3, \
         network_synced_at = $4 WHERE id = $5",
    )
    .bind(creator_id)
    .bind(i64::from(pre_existing))
    .bind(affiliations)
    .bind(now.millis())
    .bind(partner.as_str())
    .execute(ex)
    .await?;
    Ok(())
}
