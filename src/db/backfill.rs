//! Backfill runs: progress and the resume point live in the database, so a restart resumes
//! where the last saved batch ended, and the lease (with its holder) keeps two replicas from
//! running one run.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::partners::Partner;
use super::{Db, Exec};
use crate::domain::time::Timestamp;

#[derive(Debug, Clone)]
pub struct BackfillRun {
    pub id: String,
    pub status: String,
    pub total: i64,
    pub pushed: i64,
    pub pre_existing: i64,
    pub queued: i64,
    pub failed: i64,
    pub after: Option<(i64, String)>,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
}

/// One batch's outcome, added to the run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Progress {
    pub pushed: i64,
    pub pre_existing: i64,
    pub queued: i64,
    pub failed: i64,
}

const COLUMNS: &str = "id, status, total, pushed, pre_existing, queued, failed, after_created, after_id, started_at, finished_at";

/// Partners the backfill still has to push: not on the Network, not revoked, not waiting in
/// the outbox, and created before the run started.
const CANDIDATES: &str = "FROM partners p WHERE p.network_creator_id IS NULL AND p.revoked_at IS NULL \
    AND p.created_at <= $1 AND NOT EXISTS (SELECT 1 FROM network_outbox o WHERE o.partner_id = p.id AND o.status = 'pending')";

impl FromRow<'_, AnyRow> for BackfillRun {
    fn from_row(r: &AnyRow) -> sqlx::Result<BackfillRun> {
        let after = match (
            r.try_get::<Option<i64>, _>("after_created")?,
            r.try_get::<Option<String>, _>("after_id")?,
        ) {
            (Some(c), Some(id)) => Some((c, id)),
            _ => None,
        };
        Ok(BackfillRun {
            id: r.try_get("id")?,
            status: r.try_get("status")?,
            total: r.try_get("total")?,
            pushed: r.try_get("pushed")?,
            pre_existing: r.try_get("pre_existing")?,
            queued: r.try_get("queued")?,
            failed: r.try_get("failed")?,
            after,
            started_at: Timestamp::from_millis(r.try_get("started_at")?),
            finished_at: r
                .try_get::<Option<i64>, _>("finished_at")?
                .map(Timestamp::from_millis),
        })
    }
}

pub async fn count_candidates<'e>(ex: impl Exec<'e>, until: Timestamp) -> sqlx::Result<i64> {
    sqlx::query(&format!("SELECT COUNT(*) {CANDIDATES}"))
        .bind(until.millis())
        .fetch_one(ex)
        .await?
        .try_get(0)
}

/// The next batch, in (created_at, id) order after `after`.
pub async fn candidates(
    db: &Db,
    until: Timestamp,
    after: Option<(i64, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<Partner>> {
    let ids = match after {
        Some((created, id)) => {
            sqlx::query(&format!(
                "SELECT p.id {CANDIDATES} AND (p.created_at, p.id) > ($2, $3) ORDER BY p.created_at, p.id LIMIT $4"
            ))
            .bind(until.millis())
            .bind(created)
            .bind(id)
            .bind(limit)
            .fetch_all(db.pool())
            .await?
        }
        None => {
            sqlx::query(&format!("SELECT p.id {CANDIDATES} ORDER BY p.created_at, p.id LIMIT $2"))
                .bind(until.millis())
                .bind(limit)
                .fetch_all(db.pool())
                .await?
        }
    };
    let ids: Vec<String> = ids
        .iter()
        .map(|r| r.try_get(0))
        .collect::<sqlx::Result<_>>()?;
    super::partners::by_ids(db, &ids).await
}

/// Starts a run. A unique violation means another run is in progress.
pub async fn create_run(db: &Db, id: &str, total: i64, now: Timestamp) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "INSERT INTO backfill_runs (id, status, total, started_at) VALUES ($1, 'running', $2, $3)",
    )
    .bind(id)
    .bind(total)
    .bind(now.millis())
    .execute(&mut *tx)
    .await?;
    let change = super::audit::Change {
        action: "network.backfill_start",
        target_type: "backfill_run",
        target_id: id,
        changes: serde_json::json!({"total": {"before": null, "after": total}}),
    };
    super::audit::append(&mut tx, change, now).await?;
    tx.commit().await
}

pub async fn running<'e>(ex: impl Exec<'e>) -> sqlx::Result<Option<BackfillRun>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM backfill_runs WHERE status = 'running'"
    ))
    .fetch_optional(ex)
    .await
}

pub async fn latest<'e>(ex: impl Exec<'e>) -> sqlx::Result<Option<BackfillRun>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM backfill_runs ORDER BY started_at DESC, id DESC LIMIT 1"
    ))
    .fetch_optional(ex)
    .await
}

/// Takes the run's lease for `owner` if it is free (never taken, or lapsed: its holder
/// died). True when `owner` holds it now.
pub async fn lease<'e>(
    ex: impl Exec<'e>,
    id: &str,
    owner: &str,
    now: Timestamp,
    until: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backfill_runs SET lease_until = $1, lease_owner = $2 \
         WHERE id = $3 AND status = 'running' AND lease_until <= $4",
    )
    .bind(until.millis())
    .bind(owner)
    .bind(id)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Extends `owner`'s lease. False when the run is over or another holder took it (the
/// lease had lapsed): `owner` must stop.
pub async fn renew_lease<'e>(
    ex: impl Exec<'e>,
    id: &str,
    owner: &str,
    until: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backfill_runs SET lease_until = $1 WHERE id = $2 AND status = 'running' AND lease_owner = $3",
    )
    .bind(until.millis())
    .bind(id)
    .bind(owner)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Adds a batch's outcome, moves the resume point and extends the lease, if `owner` still
/// holds it. False when it does not (nothing saved: the holder redoes the batch).
pub async fn save_progress<'e>(
    ex: impl Exec<'e>,
    id: &str,
    owner: &str,
    p: Progress,
    after: (i64, &str),
    lease_until: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE backfill_runs SET pushed = pushed + $1, pre_existing = pre_existing + $2, queued = queued + $3, \
         failed = failed + $4, after_created = $5, after_id = $6, lease_until = $7 \
         WHERE id = $8 AND status = 'running' AND lease_owner = $9",
    )
    .bind(p.pushed)
    .bind(p.pre_existing)
    .bind(p.queued)
    .bind(p.failed)
    .bind(after.0)
    .bind(after.1)
    .bind(lease_until.millis())
    .bind(id)
    .bind(owner)
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Ends the run, if `owner` holds it.
pub async fn finish<'e>(
    ex: impl Exec<'e>,
    id: &str,
    owner: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE backfill_runs SET status = 'done', finished_at = $1, lease_until = 0 \
         WHERE id = $2 AND lease_owner = $3",
    )
    .bind(now.millis())
    .bind(id)
    .bind(owner)
    .execute(ex)
    .await?;
    Ok(())
}
