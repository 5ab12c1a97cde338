//! Stripe: partners' connected-account status, and the inbox of verified webhook events
//! (stored by Stripe's event id, then processed by lease-claiming workers like the mail outbox).

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec, flag};
use crate::domain::ids::PartnerId;
use crate::domain::time::Timestamp;

/// A partner's connected account and its status as last read (`None` = not known yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectStatus {
    pub account_id: Option<String>,
    pub details_submitted: Option<bool>,
    pub payouts_enabled: Option<bool>,
    pub status_at: Option<Timestamp>,
}

/// What recording an account's status did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusWrite {
    /// No partner holds this account.
    NoPartner,
    /// The partners holding it already had a newer reading.
    Stale,
    /// Recorded on this many partners.
    Recorded(u64),
}

#[derive(Debug, Clone)]
pub struct StripeEvent {
    pub id: String,
    pub event_type: String,
    pub payload: String,
    /// `data.object.id`, when there is one.
    pub object_id: Option<String>,
    pub livemode: bool,
    /// The event's `created`, as a timestamp.
    pub stripe_created: Option<Timestamp>,
    /// `pending`, `processed`, `ignored` or `dead`.
    pub status: String,
    pub outcome: Option<String>,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    pub received_at: Timestamp,
    pub processed_at: Option<Timestamp>,
}

pub struct NewStripeEvent<'a> {
    pub id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
    pub object_id: Option<&'a str>,
    pub livemode: bool,
    pub stripe_created: Option<Timestamp>,
    /// A type nothing processes: stored as `ignored` at once.
    pub ignored: bool,
}

const COLUMNS: &str = "id, type, payload, object_id, livemode, stripe_created, status, outcome, \
    attempts, next_attempt_at, last_error, received_at, processed_at";

impl FromRow<'_, AnyRow> for StripeEvent {
    fn from_row(r: &AnyRow) -> sqlx::Result<StripeEvent> {
        Ok(StripeEvent {
            id: r.try_get("id")?,
            event_type: r.try_get("type")?,
            payload: r.try_get("payload")?,
            object_id: r.try_get("object_id")?,
            livemode: r.try_get::<i64, _>("livemode")? != 0,
            stripe_created: super::opt_ts(r, "stripe_created")?,
            status: r.try_get("status")?,
            outcome: r.try_get("outcome")?,
            attempts: r.try_get("attempts")?,
            next_attempt_at: Timestamp::from_millis(r.try_get("next_attempt_at")?),
            last_error: r.try_get("last_error")?,
            received_at: Timestamp::from_millis(r.try_get("received_at")?),
            processed_at: super::opt_ts(r, "processed_at")?,
        })
    }
}

fn opt_flag(r: &AnyRow, col: &str) -> sqlx::Result<Option<bool>> {
    Ok(r.try_get::<Option<i64>, _>(col)?.map(|v| v != 0))
}

impl FromRow<'_, AnyRow> for ConnectStatus {
    fn from_row(r: &AnyRow) -> sqlx::Result<ConnectStatus> {
        Ok(ConnectStatus {
            account_id: r.try_get("stripe_connect_account_id")?,
            details_submitted: opt_flag(r, "stripe_details_submitted")?,
            payouts_enabled: opt_flag(r, "stripe_payouts_enabled")?,
            status_at: super::opt_ts(r, "stripe_status_at")?,
        })
    }
}

/// Whether an event of `event_type` about `object_id` has been received (in any state).
pub async fn event_received<'e>(
    ex: impl Exec<'e>,
    event_type: &str,
    object_id: &str,
) -> sqlx::Result<bool> {
    let row = sqlx::query("SELECT 1 FROM stripe_events WHERE type = $1 AND object_id = $2 LIMIT 1")
        .bind(event_type)
        .bind(object_id)
        .fetch_optional(ex)
        .await?;
    Ok(row.is_some())
}

/// Gives the partner `account` unless it already has one; returns the account it holds
/// afterwards (`None`: no such partner).
pub async fn set_account_if_none(
    db: &Db,
    partner: &PartnerId,
    account: &str,
    now: Timestamp,
) -> sqlx::Result<Option<String>> {
    let mut tx = db.begin().await?;
    let done = sqlx::query(
        "UPDATE partners SET stripe_connect_account_id = $1, updated_at = $2, \
         stripe_details_submitted = NULL, stripe_payouts_enabled = NULL, stripe_status_at = NULL \
         WHERE id = $3 AND stripe_connect_account_id IS NULL",
    )
    .bind(account)
    .bind(now.millis())
    .bind(partner.as_str())
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 1 {
        let change = super::audit::Change {
            action: "partner.connect_start",
            target_type: "partner",
            target_id: partner.as_str(),
            changes: serde_json::json!({
                "stripeConnectAccountId": {"before": null, "after": account}
            }),
        };
        super::audit::append(&mut tx, change, now).await?;
    }
    tx.commit().await?;
    Ok(connect_status(db.pool(), partner)
        .await?
        .and_then(|s| s.account_id))
}

/// The partner's connected account and its last known status; `None`: no such partner.
pub async fn connect_status<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
) -> sqlx::Result<Option<ConnectStatus>> {
    sqlx::query_as(
        "SELECT stripe_connect_account_id, stripe_details_submitted, stripe_payouts_enabled, \
         stripe_status_at FROM partners WHERE id = $1",
    )
    .bind(partner.as_str())
    .fetch_optional(ex)
    .await
}

/// Records `account`'s status as read at `at` on the partners holding it (only `partner`
/// when given), unless they hold a newer reading.
pub async fn record_connect_status(
    db: &Db,
    account: &str,
    partner: Option<&PartnerId>,
    details_submitted: bool,
    payouts_enabled: bool,
    at: Timestamp,
) -> sqlx::Result<StatusWrite> {
    let scope = "stripe_connect_account_id = $1 AND ($2 = '' OR id = $2)";
    let partner = partner.map(PartnerId::as_str).unwrap_or("");
    let updated = sqlx::query(&format!(
        "UPDATE partners SET stripe_details_submitted = $3, stripe_payouts_enabled = $4, \
         stripe_status_at = $5 WHERE {scope} \
         AND (stripe_status_at IS NULL OR stripe_status_at <= $5)"
    ))
    .bind(account)
    .bind(partner)
    .bind(flag(details_submitted))
    .bind(flag(payouts_enabled))
    .bind(at.millis())
    .execute(db.pool())
    .await?
    .rows_affected();
    if updated > 0 {
        return Ok(StatusWrite::Recorded(updated));
    }
    let holders: i64 = sqlx::query_scalar(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM partners WHERE {scope}"
    ))
    .bind(account)
    .bind(partner)
    .fetch_one(db.pool())
    .await?;
    Ok(if holders == 0 {
        StatusWrite::NoPartner
    } else {
        StatusWrite::Stale
    })
}

/// Stores a verified event; false when its id is already stored (a redelivery).
pub async fn insert_event<'e>(
    ex: impl Exec<'e>,
    e: &NewStripeEvent<'_>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO stripe_events (id, type, payload, object_id, livemode, stripe_created, \
         next_attempt_at, received_at, status, outcome, processed_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING",
    )
    .bind(e.id)
    .bind(e.event_type)
    .bind(e.payload)
    .bind(e.object_id)
    .bind(flag(e.livemode))
    .bind(e.stripe_created.map(Timestamp::millis))
    .bind(now.millis())
    .bind(if e.ignored { "ignored" } else { "pending" })
    .bind(e.ignored.then_some("ignored"))
    .bind(e.ignored.then_some(now.millis()))
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get_event<'e>(ex: impl Exec<'e>, id: &str) -> sqlx::Result<Option<StripeEvent>> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM stripe_events WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(ex)
    .await
}

/// Claims one pending, due event until `lease_until`.
pub async fn claim_event<'e>(
    ex: impl Exec<'e>,
    id: &str,
    now: Timestamp,
    lease_until: Timestamp,
) -> sqlx::Result<Option<StripeEvent>> {
    sqlx::query_as(&format!(
        "UPDATE stripe_events SET locked_until = $1 WHERE id = $2 AND status = 'pending' \
         AND next_attempt_at <= $3 AND locked_until <= $3 RETURNING {COLUMNS}"
    ))
    .bind(lease_until.millis())
    .bind(id)
    .bind(now.millis())
    .fetch_optional(ex)
    .await
}

/// Claims up to `limit` due events.
pub async fn claim_due_events(
    db: &Db,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<StripeEvent>> {
    db.claim_due("stripe_events", COLUMNS, now, lease_until, limit)
        .await
}

/// Ends processing: `status` is `processed` or `ignored`; `note` says why, if anything.
pub async fn finish_event<'e>(
    ex: impl Exec<'e>,
    id: &str,
    status: &str,
    outcome: &str,
    note: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE stripe_events SET status = $1, outcome = $2, processed_at = $3, \
         attempts = attempts + 1, locked_until = 0, last_error = $4 WHERE id = $5",
    )
    .bind(status)
    .bind(outcome)
    .bind(now.millis())
    .bind(note)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `next_attempt_at`, or `dead` when `None`.
pub async fn fail_event<'e>(
    ex: impl Exec<'e>,
    id: &str,
    error: &str,
    next_attempt_at: Option<Timestamp>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE stripe_events SET attempts = attempts + 1, last_error = $1, locked_until = 0, \
         status = CASE WHEN $2 = 1 THEN 'pending' ELSE 'dead' END, \
         outcome = CASE WHEN $2 = 1 THEN NULL ELSE 'dead' END, \
         next_attempt_at = COALESCE($3, next_attempt_at) WHERE id = $4",
    )
    .bind(error)
    .bind(flag(next_attempt_at.is_some()))
    .bind(next_attempt_at.map(Timestamp::millis))
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Leaves an event pending until `next_attempt_at` without counting an attempt: what it
/// waits for (a payout settling) ends on its own.
pub async fn defer_event<'e>(
    ex: impl Exec<'e>,
    id: &str,
    reason: &str,
    next_attempt_at: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE stripe_events SET last_error = $1, locked_until = 0, status = 'pending', \
         outcome = NULL, next_attempt_at = $2 WHERE id = $3",
    )
    .bind(reason)
    .bind(next_attempt_at.millis())
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}

/// Puts a dead event back in the queue, due now, with a fresh retry schedule. False when
/// it is not dead.
pub async fn revive_event(db: &Db, id: &str, now: Timestamp) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let revived = super::requeue_audited(
        &mut tx,
        "UPDATE stripe_events SET status = 'pending', outcome = NULL, attempts = 0, \
         next_attempt_at = $1, locked_until = 0 WHERE id = $2 AND status = 'dead'",
        ("stripe_event.retry", "stripe_event"),
        id,
        Some("dead"),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(revived)
}

/// Events newest first, optionally of one status or outcome, after a keyset position.
pub async fn list_events<'e>(
    ex: impl Exec<'e>,
    status: Option<&str>,
    after: Option<(Timestamp, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<StripeEvent>> {
    let (after_at, after_id) = after
        .map(|(t, id)| (t.millis(), id))
        .unwrap_or((i64::MAX, ""));
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM stripe_events WHERE ($1 = '' OR status = $1 OR outcome = $1) \
         AND (received_at < $2 OR (received_at = $2 AND ($3 = '' OR id < $3))) \
         ORDER BY received_at DESC, id DESC LIMIT $4"
    ))
    .bind(status.unwrap_or(""))
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(ex)
    .await
}
