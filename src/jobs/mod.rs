//! Background jobs on tokio-cron-scheduler. Each job's body is a plain async fn that tests can
//! call directly; the scheduler only decides when it runs. A job never overlaps itself on one
//! replica; across replicas, each job claims its work in the database.

pub mod cleanup;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio_cron_scheduler::{Job, JobScheduler};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::db;
use crate::state::AppState;

/// Daily, at a quiet hour (UTC): removes webhook deliveries past their retention.
const WEBHOOK_PRUNE_CRON: &str = "0 41 3 * * *";

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
    for (name, expr) in [
        ("auto_approve", state.config.auto_approve_cron.clone()),
        ("payout_schedule", state.config.payout_schedule_cron.clone()),
        ("network_report", state.config.network_report_cron.clone()),
    ] {
        let job_state = state.clone();
        scheduler
            .add(cron_job(name, &expr, cancel.clone(), move || {
                let state = job_state.clone();
                async move { slotted(&state, name).await }
            })?)
            .await?;
    }
    let retry_state = state.clone();
    scheduler
        .add(cron_job(
            "payout_retry",
            &state.config.payout_retry_cron,
            cancel.clone(),
            move || {
                let state = retry_state.clone();
                async move {
                    if let Err(e) = crate::service::payouts::send_due(&state).await {
                        crate::instruments::job_failed("payout_retry");
                        tracing::warn!(error = %e, "payout retry failed");
                    }
                }
            },
        )?)
        .await?;
    let cleanup_state = state.clone();
    scheduler
        .add(cron_job(
            "cleanup",
            &state.config.cleanup_cron,
            cancel.clone(),
            move || {
                let state = cleanup_state.clone();
                async move { cleanup::scheduled(&state).await }
            },
        )?)
        .await?;
    let stripe_state = state.clone();
    scheduler
        .add(cron_job(
            "stripe_events",
            &state.config.stripe_events_cron,
            cancel.clone(),
            move || {
                let state = stripe_state.clone();
                async move { crate::service::stripe_events::job(&state).await }
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

/// Runs a once-per-slot job: only the replica whose claim of the scheduled slot lands runs it.
async fn slotted(state: &AppState, name: &'static str) {
    let expr = match name {
        "auto_approve" => &state.config.auto_approve_cron,
        "payout_schedule" => &state.config.payout_schedule_cron,
        _ => &state.config.network_report_cron,
    };
    let Some(slot) = crate::network::heartbeat::current_slot(expr) else {
        return;
    };
    match db::jobs::claim_slot(state.db.pool(), name, slot, state.clock.now()).await {
        Ok(true) => {}
        Ok(false) => return,
        Err(e) => {
            tracing::warn!(error = %e, job = name, "could not claim the job slot");
            return;
        }
    }
    let result = match name {
        "auto_approve" => crate::service::payout_jobs::auto_approve(state)
            .await
            .map(|n| tracing::info!(approved = n, "auto-approve")),
        "payout_schedule" => crate::service::payout_jobs::scheduled_run(state)
            .await
            .map(|r| {
                if let Some(r) = r {
                    tracing::info!(
                        payouts = r.payouts.len(),
                        skipped = r.skipped.len(),
                        "scheduled payout run"
                    );
                }
            }),
        _ => crate::service::payout_jobs::report_to_network(state)
            .await
            .map(|_| ()),
    };
    if let Err(e) = result {
        crate::instruments::job_failed(name);
        tracing::warn!(error = ?e, job = name, "job failed");
    }
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
            let started = std::time::Instant::now();
            crate::db::audit::scoped(
                crate::db::audit::AuditScope::job(name),
                run().instrument(tracing::info_span!("job", name)),
            )
            .await;
            crate::instruments::job_run(name, started);
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
