//! The click buffer: redirects hand clicks to one writer task that inserts them in multi-row
//! batches, so a redirect never waits on a database write. Batches form naturally under load
//! (everything queued while the previous batch was written goes into the next one).
//!
//! Nothing is dropped: a full queue makes the redirect wait (back-pressure); a failed write is
//! retried; `flush()` waits until every click queued before it is in the database; `shutdown()`
//! drains the queue on graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::db::Db;
use crate::db::clicks::{Click, MAX_BATCH};

enum Msg {
    Click(Box<Click>),
    Flush(oneshot::Sender<()>),
}

pub struct ClickBuffer {
    tx: mpsc::Sender<Msg>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

const QUEUE: usize = 65_536;

impl ClickBuffer {
    pub fn start(db: Db) -> Arc<ClickBuffer> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let writer = tokio::spawn(write_loop(db, rx));
        Arc::new(ClickBuffer {
            tx,
            writer: Mutex::new(Some(writer)),
        })
    }

    /// Queues a click. Waits only when the queue is full.
    pub async fn record(&self, click: Click) {
        if let Err(e) = self.tx.send(Msg::Click(Box::new(click))).await {
            // Only after shutdown: no redirect should be running then.
            if let Msg::Click(c) = e.0 {
                tracing::error!(click_id = %c.id, "click recorded after shutdown; not buffered");
            }
        }
    }

    /// Returns once every click queued before this call is written.
    pub async fn flush(&self) {
        let (done_tx, done_rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(done_tx)).await.is_ok() {
            let _ = done_rx.await;
        }
    }

    /// Writes everything queued and stops the writer. Call after the server stopped.
    pub async fn shutdown(&self) {
        self.flush().await;
        if let Some(writer) = self.writer.lock().await.take() {
            writer.abort();
            let _ = writer.await;
        }
    }
}

async fn write_loop(db: Db, mut rx: mpsc::Receiver<Msg>) {
    let mut batch: Vec<Click> = Vec::with_capacity(MAX_BATCH);
    let mut waiters: Vec<oneshot::Sender<()>> = Vec::new();
    while let Some(first) = rx.recv().await {
        take(first, &mut batch, &mut waiters);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(msg) => take(msg, &mut batch, &mut waiters),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            write(&db, &batch).await;
            batch.clear();
        }
        for w in waiters.drain(..) {
            let _ = w.send(());
        }
    }
}

fn take(msg: Msg, batch: &mut Vec<Click>, waiters: &mut Vec<oneshot::Sender<()>>) {
    match msg {
        Msg::Click(c) => batch.push(*c),
        Msg::Flush(w) => waiters.push(w),
    }
}

/// Writes one batch, retrying until the database takes it.
async fn write(db: &Db, batch: &[Click]) {
    let mut delay = Duration::from_millis(50);
    loop {
        match db.insert_clicks(batch).await {
            Ok(_) => return,
            Err(e) => {
                tracing::error!(error = %e, clicks = batch.len(), "writing clicks failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}
