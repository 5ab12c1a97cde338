//! The retry schedule shared by the mail outbox and the Network push queue:
//! 30 s, 1 m, 2 m, 5 m, 15 m, 1 h, 4 h, 12 h, then the item is dead.

use super::time::Timestamp;

pub const SCHEDULE_SECS: [i64; 8] = [30, 60, 120, 300, 900, 3600, 4 * 3600, 12 * 3600];

/// When to try again after failed attempt number `failed_attempts + 1`; `None` = give up.
pub fn next_attempt(failed_attempts: u32, now: Timestamp) -> Option<Timestamp> {
    SCHEDULE_SECS
        .get(failed_attempts as usize)
        .map(|secs| now.plus_millis(secs * 1000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_schedule_then_gives_up() {
        let t0 = Timestamp::from_millis(0);
        assert_eq!(next_attempt(0, t0), Some(Timestamp::from_millis(30_000)));
        assert_eq!(
            next_attempt(7, t0),
            Some(Timestamp::from_millis(12 * 3_600_000))
        );
        assert_eq!(next_attempt(8, t0), None);
    }
}

/// The webhook retry schedule of the Standard Webhooks specification: after the first attempt,
/// 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h; then the delivery is failed.
pub const WEBHOOK_SCHEDULE_SECS: [i64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// When to send a webhook again once `attempts` attempts (this one included) have failed;
/// `None` = failed for good.
pub fn webhook_next_attempt(attempts: i64, now: Timestamp) -> Option<Timestamp> {
    usize::try_from(attempts - 1)
        .ok()
        .and_then(|i| WEBHOOK_SCHEDULE_SECS.get(i))
        .map(|secs| now.plus_millis(secs * 1000))
}

#[cfg(test)]
mod webhook_tests {
    use super::*;

    #[test]
    fn eight_attempts_then_failed() {
        let t0 = Timestamp::from_millis(0);
        assert_eq!(
            webhook_next_attempt(1, t0),
            Some(Timestamp::from_millis(5_000))
        );
        assert_eq!(
            webhook_next_attempt(7, t0),
            Some(Timestamp::from_millis(36_000_000))
        );
        assert_eq!(webhook_next_attempt(8, t0), None);
    }
}
