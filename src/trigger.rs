//! A coalescing background trigger: at most one run of a task in flight; triggers that arrive
//! meanwhile coalesce into a single follow-up run. The state holds one for the Network
//! heartbeat (`network::heartbeat::trigger` fires it).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub struct Trigger {
    in_flight: AtomicBool,
    again: AtomicBool,
}

impl Trigger {
    /// No background run is in flight or queued.
    pub fn is_idle(&self) -> bool {
        !self.in_flight.load(Ordering::Acquire)
    }

    /// Runs `run()` in the background unless a run is in flight; then one more run is queued
    /// after it. Never waits.
    pub fn fire<F, Fut>(self: &Arc<Self>, run: F)
    where
        F: Fn() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if self.in_flight.swap(true, Ordering::AcqRel) {
            self.again.store(true, Ordering::Release);
            return;
        }
        let t = self.clone();
        tokio::spawn(async move {
            loop {
                t.again.store(false, Ordering::Release);
                run().await;
                if t.again.load(Ordering::Acquire) {
                    continue;
                }
                t.in_flight.store(false, Ordering::Release);
                // A trigger that arrived between the check and the release must not be lost.
                if t.again.load(Ordering::Acquire) && !t.in_flight.swap(true, Ordering::AcqRel) {
                    continue;
                }
                break;
            }
        });
    }
}
