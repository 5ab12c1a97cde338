//! The delivery worker. Each due head of an endpoint's queue is worked in a "lane", a task of
//! its own that sends it and, while deliveries succeed, goes on with that endpoint's next one:
//! an endpoint's events go out in order, one at a time, and a slow endpoint only ever holds
//! its own lane. [`dispatch`] (the scheduled job) starts lanes and returns; [`deliver_due`]
//! (tests, tools) runs them to the end.

use tokio::task::JoinSet;

use super::attempt;
use crate::db;
use crate::db::webhook_deliveries::Delivery;
use crate::state::AppState;

/// How long a replica holds a claimed delivery: longer than one attempt can take.
pub const LEASE_MS: i64 = 60_000;

/// The scheduled job: starts a lane for every endpoint whose head is due (up to the free
/// lanes) and returns without waiting for them.
pub async fn dispatch(state: &AppState) {
    let worker = state.webhooks.clone();
    while !worker.stopping() {
        let free = worker.lanes.available_permits().min(32);
        if free == 0 {
            return;
        }
        let now = state.clock.now();
        match db::webhook_deliveries::any_due(state.db.pool(), now).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(error = %e, "could not look for due webhook deliveries");
                return;
            }
        }
        let heads = match db::webhook_deliveries::claim_heads(
            &state.db,
            None,
            now,
            now.plus_millis(LEASE_MS),
            free as i64,
        )
        .await
        {
            Ok(heads) => heads,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim webhook deliveries");
                return;
            }
        };
        let claimed = heads.len();
        for head in heads {
            let Ok(permit) = worker.lanes.clone().try_acquire_owned() else {
                let _ = db::webhook_deliveries::release(state.db.pool(), &head.id).await;
                continue;
            };
            let state = state.clone();
            worker.tracker.spawn(async move {
                lane(&state, head).await;
                drop(permit);
            });
        }
        if claimed < free {
            return;
        }
    }
}

/// Sends every due delivery, lane by lane in parallel, and returns once all lanes are done
/// and nothing more is due. Returns how many attempts were made. A test drives the worker
/// with this and the app's clock.
pub async fn deliver_due(state: &AppState) -> anyhow::Result<usize> {
    let mut attempts = 0;
    loop {
        let now = state.clock.now();
        let heads = db::webhook_deliveries::claim_heads(
            &state.db,
            None,
            now,
            now.plus_millis(LEASE_MS),
            100,
        )
        .await?;
        if heads.is_empty() {
            return Ok(attempts);
        }
        let mut lanes = JoinSet::new();
        for head in heads {
            let state = state.clone();
            lanes.spawn(async move { lane(&state, head).await });
        }
        while let Some(n) = lanes.join_next().await {
            attempts += n?;
        }
    }
}

/// Sends one delivery now if it is the head of its endpoint's queue (a test event, an admin's
/// retry). False when it is not (it waits for the worker, behind earlier ones).
pub async fn send_now(state: &AppState, delivery_id: &str) -> anyhow::Result<bool> {
    let now = state.clock.now();
    let Some(d) =
        db::webhook_deliveries::claim(state.db.pool(), delivery_id, now, now.plus_millis(LEASE_MS))
            .await?
    else {
        return Ok(false);
    };
    attempt::attempt(state, &d).await;
    Ok(true)
}

/// Works one endpoint's queue from `first` while deliveries succeed and the next is due.
/// Returns how many attempts it made.
async fn lane(state: &AppState, first: Delivery) -> usize {
    let mut current = first;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let delivered = attempt::attempt(state, &current).await;
        if !delivered || state.webhooks.stopping() {
            return attempts;
        }
        let now = state.clock.now();
        match db::webhook_deliveries::claim_heads(
            &state.db,
            Some(&current.endpoint_id),
            now,
            now.plus_millis(LEASE_MS),
            1,
        )
        .await
        {
            Ok(mut next) if !next.is_empty() => current = next.swap_remove(0),
            Ok(_) => return attempts,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim the next webhook delivery");
                return attempts;
            }
        }
    }
}

/// The daily clean-up: deliveries that finished more than `OPENPARTNER_WEBHOOK_RETENTION_DAYS`
/// ago go, with the events no delivery needs any more.
pub async fn prune(state: &AppState) -> anyhow::Result<u64> {
    let cutoff = state
        .clock
        .now()
        .plus_days(-(state.config.webhook_retention_days as i64));
    Ok(db::webhook_deliveries::prune(&state.db, cutoff).await?)
}
