//! Backfill: pushes every partner not yet on the Network, once. Runs in the background in
//! batches (memory does not grow with the roster) with a small bound on concurrent calls, and
//! saves its resume point after each batch, so a crash or restart resumes where it stopped.
//! Partners already pushed are skipped, so a second run pushes nothing new. Failures are
//! queued in the outbox for the drain job.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::Semaphore;

use crate::db;
use crate::db::Db;
use crate::db::backfill::{BackfillRun, Progress};
use crate::error::{ApiError, ApiResult, is_unique_violation};
use crate::network::client::CallError;
use crate::network::sync::{is_suspended, payload, upsert};
use crate::network::{connected, vendor_token};
use crate::state::AppState;

const BATCH: i64 = 200;
const CONCURRENCY: usize = 16;

/// Starts a run, or joins the one in progress. Returns it.
pub async fn start(state: &AppState) -> ApiResult<BackfillRun> {
    connected(state).await?;
    if let Some(run) = state.db.running_backfill().await? {
        spawn(state, run.id.clone());
        return Ok(run);
    }
    let now = state.clock.now();
    let total = state.db.count_backfill_candidates(now).await?;
    let id = ulid::Ulid::new().to_string();
    match state.db.create_backfill_run(&id, total, now).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let run = state
        .db
        .running_backfill()
        .await?
        .or(state.db.latest_backfill().await?)
        .ok_or_else(|| ApiError::internal("backfill run vanished"))?;
    spawn(state, run.id.clone());
    Ok(run)
}

/// Picks up a run left running by a crashed or stopped instance.
pub async fn resume(state: &AppState) {
    match state.db.running_backfill().await {
        Ok(Some(run)) => spawn(state, run.id),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "could not look for an unfinished backfill"),
    }
}

/// Runs the backfill in the background: one worker per process, which waits for the lease of
/// a crashed holder to lapse and then takes the run over.
fn spawn(state: &AppState, run_id: String) {
    if state.backfill_worker.swap(true, Ordering::AcqRel) {
        return;
    }
    let state = state.clone();
    tokio::spawn(async move {
        loop {
            match run(&state, &run_id).await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, run = %run_id, "backfill interrupted; retrying")
                }
            }
            let still_running =
                matches!(state.db.running_backfill().await, Ok(Some(r)) if r.id == run_id);
            if !still_running {
                break;
            }
            tokio::time::sleep(state.config.backfill_lease / 2).await;
        }
        state.backfill_worker.store(false, Ordering::Release);
    });
}

/// Runs the run to its end. `Ok(false)` when another holder has the lease, or took it over.
async fn run(state: &AppState, run_id: &str) -> anyhow::Result<bool> {
    let lease = state.config.backfill_lease.as_millis() as i64;
    // Each run of this function is one holder; a lapsed lease (a crashed holder) is taken over.
    let owner = ulid::Ulid::new().to_string();
    let now = state.clock.now();
    if !state
        .db
        .lease_backfill(run_id, &owner, now, now.plus_millis(lease))
        .await?
    {
        return Ok(false);
    }
    let Some(mut run) = state
        .db
        .running_backfill()
        .await?
        .filter(|r| r.id == run_id)
    else {
        return Ok(true);
    };
    tracing::info!(run = %run_id, total = run.total, pushed = run.pushed, "backfill running");
    let conn = state.db.network_connection().await?;
    let token = vendor_token(state, &conn).map_err(|e| anyhow::anyhow!(e))?;
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let mut renewed_at = now;
    loop {
        let after = run.after.as_ref().map(|(c, id)| (*c, id.as_str()));
        let batch = state
            .db
            .backfill_candidates(run.started_at, after, BATCH)
            .await?;
        let Some(last) = batch.last() else {
            state
                .db
                .finish_backfill(run_id, &owner, state.clock.now())
                .await?;
            tracing::info!(run = %run_id, "backfill done");
            return Ok(true);
        };
        let resume_at = (last.created_at.millis(), last.id.to_string());
        let mut tasks = tokio::task::JoinSet::new();
        for partner in batch {
            let gate = gate.clone();
            let state = state.clone();
            let token = token.clone();
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let body = payload(&partner, "backfill");
                let result = upsert(&state, &token, &partner.id, &body).await;
                (partner, body, result)
            });
        }
        let mut progress = Progress::default();
        while let Some(done) = tasks.join_next().await {
            // A batch can outlast the lease (BATCH pushes of up to 5 s each, CONCURRENCY at a
            // time), so the lease is renewed as pushes complete. Losing it (it lapsed, and
            // another replica took the run over) stops this holder: the pushes still in
            // flight are dropped with `tasks`, and the batch is the new holder's.
            let now = state.clock.now();
            if now.millis() - renewed_at.millis() >= lease / 4 {
                if !state
                    .db
                    .renew_backfill_lease(run_id, &owner, now.plus_millis(lease))
                    .await?
                {
                    tracing::warn!(run = %run_id, "backfill lease lost to another holder");
                    return Ok(false);
                }
                renewed_at = now;
            }
            let (partner, body, result) = done?;
            match result {
                Ok(up) => {
                    progress.pushed += 1;
                    progress.pre_existing += i64::from(up.pre_existing);
                }
                Err(e) => {
                    // Retried from the outbox by the drain job.
                    let mut tx = state.db.begin().await?;
                    Db::upsert_push(
                        &mut tx,
                        &partner.id,
                        &body.to_string(),
                        "backfill",
                        state.clock.now(),
                    )
                    .await?;
                    tx.commit().await?;
                    match &e {
                        CallError::Status { status, .. }
                            if (400..500).contains(status)
                                && *status != 408
                                && *status != 429
                                && !is_suspended(&e) =>
                        {
                            progress.failed += 1
                        }
                        _ => progress.queued += 1,
                    }
                }
            }
        }
        let now = state.clock.now();
        if !state
            .db
            .save_backfill_progress(
                run_id,
                &owner,
                progress,
                (resume_at.0, &resume_at.1),
                now.plus_millis(lease),
            )
            .await?
        {
            tracing::warn!(run = %run_id, "backfill lease lost to another holder");
            return Ok(false);
        }
        renewed_at = now;
        run.after = Some(resume_at);
    }
}
