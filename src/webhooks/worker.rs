//! The delivery worker's shared parts, held by the state: the HTTP client that sends
//! deliveries and the lanes the scheduled job has running. What it does with them is in
//! [`super::deliver`] and [`super::attempt`], which take the state.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use super::address::GuardedResolver;

/// One attempt's limit, connection to the last byte read.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Endpoints worked at once by one replica's scheduled job.
const MAX_LANES: usize = 64;

/// The worker's shared parts: the HTTP client (redirects off, proxies off, names resolved
/// through the address guard) and the lanes the scheduled job has running.
pub struct Worker {
    pub(super) client: reqwest::Client,
    pub(super) allow_private: bool,
    pub(super) lanes: Arc<Semaphore>,
    pub(super) tracker: TaskTracker,
    stopping: AtomicBool,
}

impl Worker {
    pub fn new(allow_private: bool) -> anyhow::Result<Arc<Worker>> {
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver { allow_private }))
            .user_agent(concat!("OpenPartner-Webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Arc::new(Worker {
            client,
            allow_private,
            lanes: Arc::new(Semaphore::new(MAX_LANES)),
            tracker: TaskTracker::new(),
            stopping: AtomicBool::new(false),
        }))
    }

    /// Stops starting lanes and lets running ones finish their current attempt (bounded).
    /// What is left is claimed again once its lease lapses.
    pub async fn shutdown(&self, timeout: Duration) {
        self.stopping.store(true, Ordering::Release);
        self.tracker.close();
        if tokio::time::timeout(timeout, self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                "webhook deliveries still in flight at shutdown; their leases will lapse"
            );
        }
    }

    pub(super) fn stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}
