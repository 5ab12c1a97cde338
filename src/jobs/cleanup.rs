//! The daily cleanup (`OPENPARTNER_CLEANUP_CRON`): nothing is kept forever. Removes expired or
//! ended sessions (partner and admin), expired or used magic links, job slots older than a
//! week, and sent mail older than `OPENPARTNER_MAIL_RETENTION_DAYS`; in the outbox directory
//! (when mail goes there) it redacts the links of expired messages and deletes old ones.

use std::time::Duration;

use crate::db;
use crate::db::retention::Removed;
use crate::service::magic::LINK_TTL_MINUTES;
use crate::state::AppState;

/// A job slot only matters while its tick runs; a week covers any clock skew between replicas.
const SLOT_RETENTION: Duration = Duration::from_secs(7 * 86_400);

/// What one cleanup removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub rows: Removed,
    /// Outbox-directory messages whose expired links were redacted.
    pub mail_files_redacted: usize,
    pub mail_files_deleted: usize,
}

/// The job's body: one cleanup as of the application clock's now.
pub async fn run(state: &AppState) -> anyhow::Result<Report> {
    let now = state.clock.now();
    let ago = |d: Duration| now.plus_millis(-(d.as_millis() as i64));
    let mail_before = ago(state.config.mail_retention);
    let rows =
        db::retention::remove_stale(&state.db, now, ago(SLOT_RETENTION), mail_before).await?;
    let link_ttl = Duration::from_secs(LINK_TTL_MINUTES as u64 * 60);
    let (mail_files_redacted, mail_files_deleted) = state
        .mailer
        .tidy_outbox_dir(ago(link_ttl), mail_before)
        .await?;
    Ok(Report {
        rows,
        mail_files_redacted,
        mail_files_deleted,
    })
}

/// The cron job: claims the slot in the database (so with several replicas each slot runs
/// once in total), then cleans up.
pub async fn scheduled(state: &AppState) {
    let Some(slot) = crate::network::heartbeat::current_slot(&state.config.cleanup_cron) else {
        return;
    };
    match db::jobs::claim_slot(state.db.pool(), "cleanup", slot, state.clock.now()).await {
        Ok(true) => match run(state).await {
            Ok(report) => tracing::info!(?report, "cleanup done"),
            Err(e) => tracing::warn!(error = %e, "cleanup failed; the next run retries"),
        },
        Ok(false) => tracing::debug!(slot, "cleanup slot taken by another replica"),
        Err(e) => tracing::warn!(error = %e, "could not claim the cleanup slot"),
    }
}
