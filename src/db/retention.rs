//! What the daily cleanup removes: rows that can never be used again (expired or ended
//! sessions, expired or used magic links), scheduler slots long past, and sent mail older than
//! the retention. Deleted in chunks, so the write lock (SQLite) is never held for long.

use super::Db;
use crate::domain::time::Timestamp;

/// Rows deleted per statement.
const CHUNK: i64 = 1000;

/// How many rows each cleanup step removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Removed {
    pub sessions: u64,
    pub magic_links: u64,
    pub admin_sessions: u64,
    pub job_slots: u64,
    pub mail: u64,
}

/// Deletes the rows of `table` (keyed by `id`) that match `condition`, whose only
/// placeholder is `$1` (bound to `at`), a chunk at a time. Returns how many went.
async fn delete_matching(db: &Db, table: &str, condition: &str, at: i64) -> sqlx::Result<u64> {
    let sql = format!(
        "DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {condition} LIMIT {CHUNK})"
    );
    let mut total = 0;
    loop {
        let done = sqlx::query(&sql)
            .bind(at)
            .execute(db.pool())
            .await?
            .rows_affected();
        total += done;
        if done < CHUNK as u64 {
            return Ok(total);
        }
    }
}

/// Removes, as of `now`: partner and admin sessions that expired or were ended, magic
/// links that expired or were used, job slots claimed before `slots_before`, and mail sent
/// before `mail_before`.
pub async fn remove_stale(
    db: &Db,
    now: Timestamp,
    slots_before: Timestamp,
    mail_before: Timestamp,
) -> sqlx::Result<Removed> {
    let now = now.millis();
    let dead_session = "expires_at <= $1 OR ended_at IS NOT NULL";
    let slots = sqlx::query("DELETE FROM job_slots WHERE claimed_at < $1")
        .bind(slots_before.millis())
        .execute(db.pool())
        .await?
        .rows_affected();
    Ok(Removed {
        sessions: delete_matching(db, "sessions", dead_session, now).await?,
        magic_links: delete_matching(
            db,
            "magic_links",
            "expires_at <= $1 OR used_at IS NOT NULL",
            now,
        )
        .await?,
        admin_sessions: delete_matching(db, "admin_sessions", dead_session, now).await?,
        job_slots: slots,
        mail: delete_matching(
            db,
            "mail_outbox",
            "status = 'sent' AND sent_at < $1",
            mail_before.millis(),
        )
        .await?,
    })
}
