//! The click buffer: redirects hand clicks to one writer task that inserts them in multi-row
//! batches (group commit). A redirect answers once the batch holding its click is committed, so
//! a crash (even kill -9) loses no click a visitor was given. Batches form by themselves under
//! load: everything queued while one batch is written goes into the next.
//!
//! Nothing wedges it:
//! - a batch the database refuses for a reason other than availability is split in halves
//!   until the bad rows are found; they are set aside in `click_dead_letters` with the error
//!   and the rest go in;
//! - a batch that fails because the database is unavailable is retried with backoff, and every
//!   wait on the writer is bounded: a redirect waits at most `click_commit_timeout` (then it
//!   redirects without a click id: nothing was promised), a flush at most
//!   `click_flush_timeout`, shutdown likewise.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::clock::SharedClock;
use crate::db;
use crate::db::Db;
use crate::db::clicks::{Click, MAX_BATCH};
use crate::error::is_unavailable;

enum Msg {
    /// A click, and who to tell once it is committed.
    Click(Box<Click>, oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
}

pub struct ClickBuffer {
    tx: mpsc::Sender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
    commit_timeout: Duration,
    flush_timeout: Duration,
}

const QUEUE: usize = 65_536;

impl ClickBuffer {
    pub fn start(
        db: Db,
        clock: SharedClock,
        commit_timeout: Duration,
        flush_timeout: Duration,
    ) -> Arc<ClickBuffer> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_loop(db, clock, rx));
        Arc::new(ClickBuffer {
            tx,
            writer: Mutex::new(Some(writer)),
            commit_timeout,
            flush_timeout,
        })
    }

    /// Queues a click and waits until it is committed. False when that did not happen within
    /// the commit timeout (the click stays queued and may still be written).
    pub async fn record(&self, click: Click) -> bool {
        metrics::counter!(crate::instruments::CLICKS_QUEUED).increment(1);
        let (done_tx, done_rx) = oneshot::channel();
        let committed = async {
            self.tx
                .send(Msg::Click(Box::new(click), done_tx))
                .await
                .is_ok()
                && done_rx.await.is_ok()
        };
        tokio::time::timeout(self.commit_timeout, committed)
            .await
            .unwrap_or(false)
    }

    /// Returns once every click queued before this call is written, or after the flush
    /// timeout (logged) if the database does not take them.
    pub async fn flush(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        let flushed = async {
            if self.tx.send(Msg::Flush(done_tx)).await.is_ok() {
                let _ = done_rx.await;
            }
        };
        if tokio::time::timeout(self.flush_timeout, flushed)
            .await
            .is_err()
        {
            tracing::warn!(timeout = ?self.flush_timeout, "click flush timed out; going on without it");
        }
    }

    /// Writes everything queued (within the flush timeout) and stops the writer. Call after
    /// the server stopped.
    pub async fn shutdown(&self) {
        self.flush().await;
        if let Some(writer) = self.writer.lock().await.take() {
            writer.abort();
            let _ = writer.await;
        }
    }
}

async fn write_loop(db: Db, clock: SharedClock, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<Click> = Vec::with_capacity(MAX_BATCH);
    let mut acks: Vec<oneshot::Sender<()>> = Vec::with_capacity(MAX_BATCH);
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(msg) = next.take() {
            match msg {
                Msg::Click(c, ack) => {
                    batch.push(*c);
                    acks.push(ack);
                }
                Msg::Flush(w) => flushes.push(w),
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        let rejected = if batch.is_empty() {
            Vec::new()
        } else {
            let started = std::time::Instant::now();
            let rejected = write(&db, &clock, &batch).await;
            metrics::histogram!(crate::instruments::CLICK_COMMIT)
                .record(started.elapsed().as_secs_f64());
            metrics::histogram!(crate::instruments::CLICK_BATCH_SIZE).record(batch.len() as f64);
            metrics::counter!(crate::instruments::CLICKS_WRITTEN)
                .increment((batch.len() - rejected.len()) as u64);
            metrics::counter!(crate::instruments::CLICKS_DEAD).increment(rejected.len() as u64);
            rejected
        };
        batch.clear();
        // A set-aside click's redirect is told it was not stored (its sender is dropped).
        for (i, ack) in acks.drain(..).enumerate() {
            if !rejected.contains(&i) {
                let _ = ack.send(());
            }
        }
        for flush in flushes.drain(..) {
            let _ = flush.send(());
        }
    }
}

/// Writes one batch: retried while the database is unavailable; split when it refuses rows.
/// Returns the positions of the clicks set aside.
async fn write(db: &Db, clock: &SharedClock, batch: &[Click]) -> Vec<usize> {
    let mut delay = Duration::from_millis(50);
    loop {
        match db::clicks::insert(db, batch).await {
            Ok(_) => return Vec::new(),
            Err(e) if is_unavailable(&e) => {
                tracing::error!(error = %e, clicks = batch.len(), "writing clicks failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(error = %e, clicks = batch.len(), "the database refused a click batch; isolating the bad rows");
                return isolate(db, clock, batch).await;
            }
        }
    }
}

/// Bisects a refused batch: good halves go in, single bad rows are set aside (their positions
/// are returned).
async fn isolate(db: &Db, clock: &SharedClock, batch: &[Click]) -> Vec<usize> {
    let mut rejected = Vec::new();
    let mut pending: Vec<(usize, &[Click])> = vec![(0, batch)];
    while let Some((start, part)) = pending.pop() {
        let mut delay = Duration::from_millis(50);
        let outcome = loop {
            match db::clicks::insert(db, part).await {
                Err(e) if is_unavailable(&e) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                other => break other,
            }
        };
        match outcome {
            Ok(_) => {}
            Err(e) if part.len() == 1 => {
                rejected.push(start);
                let click = &part[0];
                tracing::error!(click_id = %click.id.escape_debug(), error = %e, "click set aside as a dead letter");
                if let Err(e) =
                    db::clicks::dead_letter(db, &[(click, e.to_string())], clock.now()).await
                {
                    tracing::error!(error = %e, "could not store the dead-lettered click; dropped");
                }
            }
            Err(_) => {
                let mid = part.len() / 2;
                let (left, right) = part.split_at(mid);
                pending.push((start + mid, right));
                pending.push((start, left));
            }
        }
    }
    rejected
}
