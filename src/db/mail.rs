//! The durable mail outbox: a message is recorded (in the caller's transaction) before any
//! attempt, then claimed with a lease by whoever delivers it, so a crash mid-send leaves it to
//! be retried and two deliverers never send one message at once.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec};
use crate::domain::ids::MailId;
use crate::domain::mail::MailStatus;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone)]
pub struct OutgoingMail {
    pub id: MailId,
    pub to_addr: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub attempts: i64,
}

const COLUMNS: &str = "id, to_addr, subject, text_body, html_body, attempts";

impl FromRow<'_, AnyRow> for OutgoingMail {
    fn from_row(r: &AnyRow) -> sqlx::Result<OutgoingMail> {
        Ok(OutgoingMail {
            id: MailId::from_string(r.try_get::<String, _>("id")?),
            to_addr: r.try_get("to_addr")?,
            subject: r.try_get("subject")?,
            text_body: r.try_get("text_body")?,
            html_body: r.try_get("html_body")?,
            attempts: r.try_get("attempts")?,
        })
    }
}

pub async fn enqueue<'e>(
    ex: impl Exec<'e>,
    mail: &OutgoingMail,
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO mail_outbox (id, to_addr, subject, text_body, html_body, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(mail.id.as_str())
    .bind(&mail.to_addr)
    .bind(&mail.subject)
    .bind(&mail.text_body)
    .bind(&mail.html_body)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(())
}

/// Claims one pending message for delivery until `lease_until`.
pub async fn claim<'e>(
    ex: impl Exec<'e>,
    id: &MailId,
    now: Timestamp,
    lease_until: Timestamp,
) -> sqlx::Result<Option<OutgoingMail>> {
    sqlx::query_as(&format!(
        "UPDATE mail_outbox SET locked_until = $1 \
         WHERE id = $2 AND status = 'pending' AND locked_until <= $3 RETURNING {COLUMNS}"
    ))
    .bind(lease_until.millis())
    .bind(id.as_str())
    .bind(now.millis())
    .fetch_optional(ex)
    .await
}

/// Claims up to `limit` messages that are due.
pub async fn claim_due(
    db: &Db,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<OutgoingMail>> {
    db.claim_due("mail_outbox", COLUMNS, now, lease_until, limit)
        .await
}

/// Records a sent message, keeping `bodies` (text, HTML: the redacted copy) in place of
/// what was sent.
pub async fn mark_sent<'e>(
    ex: impl Exec<'e>,
    id: &MailId,
    bodies: (&str, &str),
    now: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE mail_outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, \
         locked_until = 0, last_error = NULL, text_body = $2, html_body = $3 WHERE id = $4",
    )
    .bind(now.millis())
    .bind(bodies.0)
    .bind(bodies.1)
    .bind(id.as_str())
    .execute(ex)
    .await?;
    Ok(())
}

/// Records a failed attempt: retried at `next_attempt_at`, or `dead` when `None`. A dead
/// message keeps `dead_bodies` (the redacted copy) in place of its own: it is never sent.
pub async fn mark_failed<'e>(
    ex: impl Exec<'e>,
    id: &MailId,
    error: &str,
    next_attempt_at: Option<Timestamp>,
    dead_bodies: (&str, &str),
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE mail_outbox SET attempts = attempts + 1, last_error = $1, locked_until = 0, \
         status = CASE WHEN $2 = 1 THEN 'pending' ELSE 'dead' END, \
         next_attempt_at = COALESCE($3, next_attempt_at), \
         text_body = CASE WHEN $2 = 1 THEN text_body ELSE $4 END, \
         html_body = CASE WHEN $2 = 1 THEN html_body ELSE $5 END WHERE id = $6",
    )
    .bind(error)
    .bind(i64::from(next_attempt_at.is_some()))
    .bind(next_attempt_at.map(Timestamp::millis))
    .bind(dead_bodies.0)
    .bind(dead_bodies.1)
    .bind(id.as_str())
    .execute(ex)
    .await?;
    Ok(())
}

/// (pending, sent, dead) counts.
pub async fn counts<'e>(ex: impl Exec<'e>) -> sqlx::Result<(i64, i64, i64)> {
    let row = sqlx::query(
        "SELECT \
         CAST(COALESCE(SUM(CASE WHEN status = 'pending' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END), 0) AS BIGINT), \
         CAST(COALESCE(SUM(CASE WHEN status = 'dead' THEN 1 ELSE 0 END), 0) AS BIGINT) \
         FROM mail_outbox",
    )
    .fetch_one(ex)
    .await?;
    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
}

/// A message as the console lists it: everything but its bodies (a pending message's body
/// holds a live magic link).
#[derive(Debug, Clone)]
pub struct MailSummary {
    pub id: MailId,
    pub to_addr: String,
    pub subject: String,
    pub status: MailStatus,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Timestamp,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

const SUMMARY: &str =
    "id, to_addr, subject, status, attempts, last_error, next_attempt_at, created_at, sent_at";

impl FromRow<'_, AnyRow> for MailSummary {
    fn from_row(r: &AnyRow) -> sqlx::Result<MailSummary> {
        Ok(MailSummary {
            id: MailId::from_string(r.try_get::<String, _>("id")?),
            to_addr: r.try_get("to_addr")?,
            subject: r.try_get("subject")?,
            status: super::decode(
                "mail_outbox.status",
                r.try_get("status")?,
                MailStatus::parse,
            )?,
            attempts: r.try_get("attempts")?,
            last_error: r.try_get("last_error")?,
            next_attempt_at: Timestamp::from_millis(r.try_get("next_attempt_at")?),
            created_at: Timestamp::from_millis(r.try_get("created_at")?),
            sent_at: r
                .try_get::<Option<i64>, _>("sent_at")?
                .map(Timestamp::from_millis),
        })
    }
}

/// What a retry found.
#[derive(Debug)]
pub enum MailRetry {
    Requeued(MailSummary),
    AlreadySent,
    NotFound,
}

/// One page of the outbox, newest first, optionally of one status, after the keyset
/// position `after` (created_at, id).
pub async fn list<'e>(
    ex: impl Exec<'e>,
    status: Option<MailStatus>,
    after: Option<(i64, &str)>,
    limit: i64,
) -> sqlx::Result<Vec<MailSummary>> {
    let (after_at, after_id) = after.unwrap_or((i64::MAX, ""));
    // Two statements rather than `$1 = '' OR status = $1`, so each has its index.
    let (filter, first) = match status {
        Some(_) => ("status = $1 AND ", 2),
        None => ("", 1),
    };
    let sql = format!(
        "SELECT {SUMMARY} FROM mail_outbox WHERE {filter}\
         (created_at < ${a} OR (created_at = ${a} AND id < ${b})) \
         ORDER BY created_at DESC, id DESC LIMIT ${c}",
        a = first,
        b = first + 1,
        c = first + 2,
    );
    let mut q = sqlx::query_as(&sql);
    if let Some(s) = status {
        q = q.bind(s.as_str());
    }
    q.bind(after_at)
        .bind(after_id)
        .bind(limit)
        .fetch_all(ex)
        .await
}

/// Puts a dead or pending message back to pending, due `now`, with its audit row. A
/// message being sent right now keeps its lease, so it is never sent twice at once.
pub async fn retry_audited(db: &Db, id: &MailId, now: Timestamp) -> sqlx::Result<MailRetry> {
    let mut tx = db.begin().await?;
    let before: Option<(String, i64)> =
        sqlx::query_as("SELECT status, next_attempt_at FROM mail_outbox WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some((status, next_at)) = before else {
        return Ok(MailRetry::NotFound);
    };
    let mail: Option<MailSummary> = sqlx::query_as(&format!(
        "UPDATE mail_outbox SET status = 'pending', next_attempt_at = $1 \
         WHERE id = $2 AND status IN ('pending', 'dead') RETURNING {SUMMARY}"
    ))
    .bind(now.millis())
    .bind(id.as_str())
    .fetch_optional(&mut *tx)
    .await?;
    // Sent already, or while we looked.
    let Some(mail) = mail else {
        return Ok(MailRetry::AlreadySent);
    };
    let change = super::audit::Change {
        action: "mail.retry",
        target_type: "mail",
        target_id: id.as_str(),
        changes: super::audit::diff(
            &serde_json::json!({"status": status, "nextAttemptAt": Timestamp::from_millis(next_at)}),
            &serde_json::json!({"status": mail.status.as_str(), "nextAttemptAt": mail.next_attempt_at}),
        ),
    };
    super::audit::append(&mut tx, change, now).await?;
    tx.commit().await?;
    Ok(MailRetry::Requeued(mail))
}
