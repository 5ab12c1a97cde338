//! Background jobs on tokio-cron-scheduler. Each job's body is a plain async fn that tests can
//! call directly; the scheduler only decides when it runs. A job never overlaps itself on one
//! replica; across replicas, each job claims its work in the database.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::state::AppState;

/// Daily, at a quiet hour (UTC): removes webhook deliveries past their retention.
const WEBHOOK_PRUNE_CRON: &str = "0 41 3 * * *";

/// Checks a 6-field cron expression (seconds first) the way the scheduler will read it.
pub fn validate_cron(expr: &str) -> Result<(), String> {
    Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// Starts the scheduler with every job registered.
pub async fn start(state: AppState, cancel: CancellationToken) -> anyhow::Result<JobScheduler> {
    let scheduler = JobScheduler::new().await?;
    let mail_state = state.clone();
    scheduler
        .add(cron_job(
            "mail_retry",
            &state.config.mail_retry_cron,
            cancel.clone(),
            move || {
                let state = mail_state.clone();
                async move {
                    match state.mailer.deliver_due().await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(attempted = n, "mail retry"),
                        Err(e) => tracing::warn!(error = %e, "mail retry failed"),
                    }
                }
            },
        )?)
        .await?;
    let hb_state = state.clone();
    scheduler
        .add(cron_job(
            "heartbeat",
            &state.config.heartbeat_cron,
            cancel.clone(),
            move || {
                let state = hb_state.clone();
                async move { crate::network::heartbeat::scheduled(&state).await }
            },
        )?)
        .await?;
    let sync_state = state.clone();
    scheduler
        .add(cron_job(
            "network_sync",
            &state.config.outbox_cron,
            cancel.clone(),
            move || {
                let state = sync_state.clone();
                async move { crate::network::sync_job(&state).await }
            },
        )?)
        .await?;
    let wh_state = state.clone();
    scheduler
        .add(cron_job(
            "webhooks",
            &state.config.webhook_cron,
            cancel.clone(),
            move || {
                let state = wh_state.clone();
                async move { crate::webhooks::deliver::dispatch(&state).await }
            },
        )?)
        .await?;
    let prune_state = state.clone();
    scheduler
        .add(cron_job(
            "webhook_prune",
            WEBHOOK_PRUNE_CRON,
            cancel.clone(),
            move || {
                let state = prune_state.clone();
                async move {
                    match crate::webhooks::deliver::prune(&state).await {
                        Ok(0) => {}
                        Ok(n) => tracing::info!(deliveries = n, "old webhook deliveries pruned"),
                        Err(e) => tracing::warn!(error = %e, "webhook pruning failed"),
                    }
                }
            },
        )?)
        .await?;
    scheduler.start().await?;
    Ok(scheduler)
}

/// A cron job that skips a tick while its previous run is still going, and does nothing once
/// shutdown has begun.
fn cron_job<F, Fut>(
    name: &'static str,
    expr: &str,
    cancel: CancellationToken,
    run: F,
) -> anyhow::Result<Job>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let running = Arc::new(AtomicBool::new(false));
    let run = Arc::new(run);
    Ok(Job::new_async(expr, move |_, _| {
        let running = running.clone();
        let cancel = cancel.clone();
        let run = run.clone();
        Box::pin(async move {
            if cancel.is_cancelled() || running.swap(true, Ordering::AcqRel) {
                return;
            }
            // A step runs to its end even during shutdown: cancelling it midway could cancel a
            // database transaction, which sqlx does not survive cleanly on PostgreSQL (see
            // `http::run_to_completion`). Shutdown only stops new ticks.
            run().instrument(tracing::info_span!("job", name)).await;
            running.store(false, Ordering::Release);
        })
    })?)
}

/// Stops scheduling; a job already running finishes its current step.
pub async fn stop(mut scheduler: JobScheduler) {
    if let Err(e) = scheduler.shutdown().await {
        tracing::warn!(error = ?e, "scheduler did not shut down cleanly");
    }
}
