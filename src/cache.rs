//! A bounded in-process cache whose entries are trusted for a TTL, and which can be cleared at
//! once. Used where a hot read must not cost a database round trip (API keys, share links):
//! a change on this replica clears the cache immediately; other replicas see it after the TTL.
//!
//! A generation counter closes the race between a reader that loaded a value just before a
//! change and the `clear()` that change made: the reader's insert is dropped.

use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// An entry's cost against the cache's capacity.
pub type Weigh<K, V> = fn(&K, &V) -> u64;

pub struct TtlCache<K, V> {
    entries: Cache<K, (V, Instant), EntryWeight<K, V>>,
    ttl: Duration,
    generation: AtomicU64,
}

/// Adapts a `Weigh` to quick_cache's weighter (the timestamp costs nothing extra).
pub struct EntryWeight<K, V>(Weigh<K, V>);

impl<K, V> Clone for EntryWeight<K, V> {
    fn clone(&self) -> Self {
        EntryWeight(self.0)
    }
}

impl<K, V> Weighter<K, (V, Instant)> for EntryWeight<K, V> {
    fn weight(&self, key: &K, val: &(V, Instant)) -> u64 {
        (self.0)(key, &val.0).max(1)
    }
}

/// Taken before a load; the load's result is cached only if nothing was cleared meanwhile.
#[derive(Debug, Clone, Copy)]
pub struct Ticket(u64);

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    /// At most `capacity` entries.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        TtlCache::weighed(capacity, capacity.max(16) as u64, |_, _| 1, ttl)
    }

    /// Entries whose weights (`weigh`, e.g. their size in bytes) add up to at most
    /// `max_weight`; `expected_items` sizes the table.
    pub fn weighed(
        expected_items: usize,
        max_weight: u64,
        weigh: Weigh<K, V>,
        ttl: Duration,
    ) -> Self {
        TtlCache {
            entries: Cache::with_weighter(expected_items.max(16), max_weight, EntryWeight(weigh)),
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
    fn weight_bounds_the_cache() {
        let c: TtlCache<String, ()> =
            TtlCache::weighed(16, 1000, |k, _| k.len() as u64, Duration::from_secs(60));
        for i in 0..200 {
            c.insert(c.ticket(), format!("{i:0>100}"), ());
        }
        let kept = (0..200)
            .filter(|i| c.get(&format!("{i:0>100}")).is_some())
            .count();
        assert!(
            kept <= 10,
            "{kept} entries of 100 bytes kept under a 1000-byte bound"
        );
    }

    #[test]
    fn entries_expire() {
        let c: TtlCache<u32, u32> = TtlCache::new(16, Duration::ZERO);
        c.insert(c.ticket(), 1, 1);
        assert_eq!(c.get(&1), None);
    }
}
