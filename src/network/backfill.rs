//! Backfill: pushes every partner not yet on the Network, once. Runs in the background in
//! batches (memory does not grow with the roster) with a small bound on concurrent calls, and
//! saves its resume point after each batch, so a crash or restart resumes where it stopped.
//! Partners already pushed are skipped, so a second run pushes nothing new. Failures are
//! queued in the outbox for the drain job.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::Semaphore;

use crate::db;
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
    if let Some(run) = db::backfill::running(state.db.pool()).await? {
        spawn(state, run.id.clone());
        return Ok(run);
    }
    let now = state.clock.now();
    let total = db::backfill::count_candidates(state.db.pool(), now).await?;
    let id = ulid::Ulid::new().to_string();
    match db::backfill::create_run(&state.db, &id, total, now).await {
        Ok(()) => {}
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let run = db::backfill::running(state.db.pool())
        .await?
        .or(db::backfill::latest(state.db.pool()).await?)
        .ok_or_else(|| ApiError::internal("backfill run vanished"))?;
    spawn(state, run.id.clone());
    Ok(run)
}

/// Picks up a run left running by a crashed or stopped instance.
pub async fn resume(state: &AppState) {
    match db::backfill::running(state.db.pool()).await {
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
            let still_running = matches!(
                db::backfill::running(state.db.pool()).await,
                Ok(Some(r)) if r.id == run_id
            );
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
    if !db::backfill::lease(state.db.pool(), run_id, &owner, now, now.plus_millis(lease)).await? {
        return Ok(false);
    }
    let Some(mut run) = db::backfill::running(state.db.pool())
        .await?
        .filter(|r| r.id == run_id)
    else {
        return Ok(true);
    };
    tracing::info!(run = %run_id, total = run.total, pushed = run.pushed, "backfill running");
    let network = db::network::get(state.db.pool()).await?;
    let token = vendor_token(state, &network).map_err(|e| anyhow::anyhow!(e))?;
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let mut renewed_at = now;
    loop {
        let after = run.after.as_ref().map(|(c, id)| (*c, id.as_str()));
        let batch = db::backfill::candidates(&state.db, run.started_at, after, BATCH).await?;
        let Some(last) = batch.last() else {
            db::backfill::finish(state.db.pool(), run_id, &owner, state.clock.now()).await?;
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
                if !db::backfill::renew_lease(
                    state.db.pool(),
                    run_id,
                    &owner,
                    now.plus_millis(lease),
                )
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
                    db::outbox::upsert(
                        &mut *tx,
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
        if !db::backfill::save_progress(
            state.db.pool(),
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
