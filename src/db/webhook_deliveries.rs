//! Webhook deliveries: claiming the head of each endpoint's queue with a lease (one replica
//! sends a delivery at a time, and an endpoint's deliveries go out in order), recording each
//! attempt, the delivery log, retries and pruning.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Backend, Db, Exec, Tx};
use crate::domain::time::Timestamp;
use crate::domain::webhooks::DeliveryStatus;

/// A delivery as the log shows it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub seq: i64,
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_response: Option<String>,
    pub created_at: Timestamp,
}

const COLUMNS: &str = "seq, id, endpoint_id, event_id, type, status, attempts, next_attempt_at, \
    last_status_code, last_latency_ms, last_response, created_at";

impl FromRow<'_, AnyRow> for Delivery {
    fn from_row(r: &AnyRow) -> sqlx::Result<Delivery> {
        Ok(Delivery {
            seq: r.try_get("seq")?,
            id: r.try_get("id")?,
            endpoint_id: r.try_get("endpoint_id")?,
            event_id: r.try_get("event_id")?,
            event_type: r.try_get("type")?,
            status: super::decode(
                "webhook_deliveries.status",
                r.try_get("status")?,
                DeliveryStatus::parse,
            )?,
            attempts: r.try_get("attempts")?,
            next_attempt_at: Timestamp::from_millis(r.try_get("next_attempt_at")?),
            last_status_code: r.try_get("last_status_code")?,
            last_latency_ms: r.try_get("last_latency_ms")?,
            last_response: r.try_get("last_response")?,
            created_at: Timestamp::from_millis(r.try_get("created_at")?),
        })
    }
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptResult<'a> {
    pub status_code: Option<i64>,
    pub latency_ms: Option<i64>,
    /// The first KiB of the answer, or why there was none.
    pub response: &'a str,
}

/// The head of an endpoint's queue: the lowest pending `seq` of its endpoint.
const IS_HEAD: &str = "NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
    WHERE e.endpoint_id = d.endpoint_id AND e.status = 'pending' AND e.seq < d.seq)";

/// Claims until `lease_until` up to `limit` due deliveries, each the head of its endpoint's
/// queue, so at most one delivery per endpoint is in flight and none overtakes an earlier
/// pending one. `endpoint` restricts the claim to one endpoint. The update re-checks the
/// lease, and on PostgreSQL concurrent claimants skip each other's rows.
pub async fn claim_heads(
    db: &Db,
    endpoint: Option<&str>,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let only = if endpoint.is_some() {
        "AND d.endpoint_id = $4"
    } else {
        "AND $4 = ''"
    };
    sqlx::query_as(&format!(
        "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN ( \
           SELECT d.id FROM webhook_deliveries d WHERE d.status = 'pending' \
           AND d.next_attempt_at <= $2 AND d.locked_until <= $2 {only} AND {IS_HEAD} \
           ORDER BY d.next_attempt_at, d.seq LIMIT $3 {lock}) \
         AND locked_until <= $2 RETURNING {COLUMNS}"
    ))
    .bind(lease_until.millis())
    .bind(now.millis())
    .bind(limit)
    .bind(endpoint.unwrap_or_default())
    .fetch_all(db.pool())
    .await
}

/// Whether any delivery is due (a read, so an idle worker never takes the write lock).
pub async fn any_due<'e>(ex: impl Exec<'e>, now: Timestamp) -> sqlx::Result<bool> {
    let row = sqlx::query(
        "SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= $1 \
         AND locked_until <= $1 LIMIT 1",
    )
    .bind(now.millis())
    .fetch_optional(ex)
    .await?;
    Ok(row.is_some())
}

/// Claims one delivery if it is pending and the head of its endpoint's queue (due or not:
/// an admin asked for it now).
pub async fn claim<'e>(
    ex: impl Exec<'e>,
    id: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!(
        "UPDATE webhook_deliveries SET locked_until = $1 WHERE id IN ( \
           SELECT d.id FROM webhook_deliveries d WHERE d.id = $3 AND d.status = 'pending' \
           AND d.locked_until <= $2 AND {IS_HEAD}) \
         AND locked_until <= $2 RETURNING {COLUMNS}"
    ))
    .bind(lease_until.millis())
    .bind(now.millis())
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// The envelope to send.
pub async fn event_payload<'e>(ex: impl Exec<'e>, event_id: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT payload FROM webhook_events WHERE id = $1")
        .bind(event_id)
        .fetch_optional(ex)
        .await
}

/// Records a 2xx and ends the endpoint's failing streak.
pub async fn mark_delivered(
    db: &Db,
    d: &Delivery,
    r: &AttemptResult<'_>,
    now: Timestamp,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    record_attempt(&mut tx, d, r, DeliveryStatus::Delivered, None, now).await?;
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $1 AND failing_since IS NOT NULL",
    )
    .bind(&d.endpoint_id)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

/// Records a failed attempt in `tx`: retried at `next`, or `failed` when `None`. Returns
/// when the endpoint's unbroken run of failures began, if the endpoint is still enabled.
pub async fn attempt_failed(
    tx: &mut Tx,
    d: &Delivery,
    r: &AttemptResult<'_>,
    next: Option<Timestamp>,
    now: Timestamp,
) -> sqlx::Result<Option<Timestamp>> {
    let status = if next.is_some() {
        DeliveryStatus::Pending
    } else {
        DeliveryStatus::Failed
    };
    record_attempt(tx, d, r, status, next, now).await?;
    sqlx::query(
        "UPDATE webhook_endpoints SET failing_since = COALESCE(failing_since, $1) WHERE id = $2",
    )
    .bind(now.millis())
    .bind(&d.endpoint_id)
    .execute(&mut **tx)
    .await?;
    let since: Option<Option<i64>> = sqlx::query_scalar(
        "SELECT failing_since FROM webhook_endpoints WHERE id = $1 AND enabled = 1",
    )
    .bind(&d.endpoint_id)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(since.flatten().map(Timestamp::from_millis))
}

/// Disables an endpoint for `reason` and fails its pending deliveries. False when it was
/// not enabled (already disabled, or deleted).
pub async fn disable_endpoint(
    tx: &mut Tx,
    endpoint_id: &str,
    reason: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET enabled = 0, disabled_reason = $1, updated_at = $2 \
         WHERE id = $3 AND enabled = 1",
    )
    .bind(reason)
    .bind(now.millis())
    .bind(endpoint_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    fail_pending(&mut **tx, endpoint_id, "endpoint disabled", now).await?;
    Ok(true)
}

/// Every pending delivery of an endpoint becomes `failed` (a retry sends it again).
pub async fn fail_pending<'e>(
    ex: impl Exec<'e>,
    endpoint_id: &str,
    why: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = 'failed', locked_until = 0, \
         last_response = COALESCE(last_response, $1), updated_at = $2 \
         WHERE endpoint_id = $3 AND status = 'pending'",
    )
    .bind(why)
    .bind(now.millis())
    .bind(endpoint_id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Gives a claimed delivery back untouched.
pub async fn release<'e>(ex: impl Exec<'e>, id: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE webhook_deliveries SET locked_until = 0 WHERE id = $1")
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// One page of an endpoint's deliveries, newest first, optionally of one status, after the
/// delivery `before_seq` of the previous page.
pub async fn list<'e>(
    ex: impl Exec<'e>,
    endpoint_id: &str,
    status: Option<DeliveryStatus>,
    before_seq: Option<i64>,
    limit: i64,
) -> sqlx::Result<Vec<Delivery>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 \
         AND ($2 = '' OR status = $2) AND seq < $3 ORDER BY seq DESC LIMIT $4"
    ))
    .bind(endpoint_id)
    .bind(status.map_or("", DeliveryStatus::as_str))
    .bind(before_seq.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(ex)
    .await
}

pub async fn get<'e>(
    ex: impl Exec<'e>,
    endpoint_id: &str,
    id: &str,
) -> sqlx::Result<Option<Delivery>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_deliveries WHERE id = $1 AND endpoint_id = $2"
    ))
    .bind(id)
    .bind(endpoint_id)
    .fetch_optional(ex)
    .await
}

/// Queues a delivery again, due now (its attempts count on). False when there is none.
pub async fn requeue(db: &Db, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let before: Option<String> =
        sqlx::query_scalar("SELECT status FROM webhook_deliveries WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    let requeued = super::requeue_audited(
        &mut tx,
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, updated_at = $1 \
         WHERE id = $2",
        ("webhook_delivery.retry", "webhook_delivery"),
        id,
        before.as_deref(),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(requeued)
}

/// Removes finished deliveries created before `cutoff`, then events no delivery needs.
/// Returns how many deliveries went.
pub async fn prune(db: &Db, cutoff: Timestamp) -> sqlx::Result<u64> {
    let done =
        sqlx::query("DELETE FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending'")
            .bind(cutoff.millis())
            .execute(db.pool())
            .await?;
    sqlx::query(
        "DELETE FROM webhook_events WHERE created_at < $1 AND NOT EXISTS ( \
         SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
    )
    .bind(cutoff.millis())
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected())
}

/// Stores an attempt's outcome, unless the delivery left `pending` meanwhile (an admin
/// disabled the endpoint, or another deliverer whose lease this one outlived finished it).
async fn record_attempt(
    tx: &mut Tx,
    d: &Delivery,
    r: &AttemptResult<'_>,
    status: DeliveryStatus,
    next: Option<Timestamp>,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE webhook_deliveries SET status = $1, attempts = attempts + 1, locked_until = 0, \
         next_attempt_at = COALESCE($2, next_attempt_at), last_status_code = $3, \
         last_latency_ms = $4, last_response = $5, updated_at = $6 \
         WHERE id = $7 AND status = 'pending'",
    )
    .bind(status.as_str())
    .bind(next.map(Timestamp::millis))
    .bind(r.status_code)
    .bind(r.latency_ms)
    .bind(r.response)
    .bind(now.millis())
    .bind(&d.id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
