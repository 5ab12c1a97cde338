//! Cron job slots: each scheduled run of a job is claimed once across replicas.

use super::Exec;
use crate::domain::time::Timestamp;

/// Claims one scheduled run of `job` across replicas. True for exactly one caller.
pub async fn claim_slot<'e>(
    ex: impl Exec<'e>,
    job: &str,
    slot: i64,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO job_slots (job, slot, claimed_at) VALUES ($1, $2, $3) ON CONFLICT (job, slot) DO NOTHING",
    )
    .bind(job)
    .bind(slot)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
