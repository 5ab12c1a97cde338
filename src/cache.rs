//! A bounded in-process cache whose entries are trusted for a TTL, and which can be cleared at
//! once. Used where a hot read must not cost a database round trip (API keys, share links):
//! a change on this replica clears the cache immediately; other replicas see it after the TTL.
//!
//! A generation counter closes the race between a reader that loaded a value just before a
//! change and the `clear()` that change made: the reader's insert is dropped.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::sync::Cache;

pub struct TtlCache<K, V> {
    entries: Cache<K, (V, Instant)>,
    ttl: Duration,
    generation: AtomicU64,
}

/// Taken before a load; the load's result is cached only if nothing was cleared meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        TtlCache {
            entries: Cache::new(capacity.max(16)),
            ttl,
            generation: AtomicU64::new(0),
        }
    }

    /// A fresh entry, if any.
    pub fn get(&self, key: &K) -> Option<V> {
        self.entries
            .get(key)
            .filter(|(_, loaded)| loaded.elapsed() < self.ttl)
            .map(|(v, _)| v)
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    pub fn insert(&self, ticket: Ticket, key: K, value: V) {
        if self.generation.load(Ordering::Acquire) == ticket.0 {
            self.entries.insert(key, (value, Instant::now()));
        }
    }

    /// Drops every entry; loads that started before this are not cached.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_load_that_raced_a_clear_is_not_cached() {
        let c: TtlCache<u32, &str> = TtlCache::new(16, Duration::from_secs(60));
        let t = c.ticket();
        c.clear();
        c.insert(t, 1, "stale");
        assert_eq!(c.get(&1), None);
        let t = c.ticket();
        c.insert(t, 1, "fresh");
        assert_eq!(c.get(&1), Some("fresh"));
    }

    #[test]
    fn entries_expire() {
        let c: TtlCache<u32, u32> = TtlCache::new(16, Duration::ZERO);
        c.insert(c.ticket(), 1, 1);
        assert_eq!(c.get(&1), None);
    }
}
