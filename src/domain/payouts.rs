//! Payouts: their statuses and rails, and when a payout schedule runs.

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayoutStatus {
    /// Manual rail: waiting for the brand to pay it and mark it paid.
    Pending,
    /// Stripe rail: the transfer is being made (or its outcome is unknown and it is retried).
    Processing,
    Paid,
    /// Stripe refused it; its commissions are free for the next run.
    Failed,
    Canceled,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 5] = [
        PayoutStatus::Pending,
        PayoutStatus::Processing,
        PayoutStatus::Paid,
        PayoutStatus::Failed,
        PayoutStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Pending => "pending",
            PayoutStatus::Processing => "processing",
            PayoutStatus::Paid => "paid",
            PayoutStatus::Failed => "failed",
            PayoutStatus::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<PayoutStatus> {
        PayoutStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PayoutMethod {
    Stripe,
    Manual,
}

impl PayoutMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            PayoutMethod::Stripe => "stripe",
            PayoutMethod::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<PayoutMethod> {
        match s {
            "stripe" => Some(PayoutMethod::Stripe),
            "manual" => Some(PayoutMethod::Manual),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    #[default]
    Manual,
    /// Mondays (UTC), at the day's first payout tick.
    Weekly,
    /// Mondays of even ISO weeks.
    Biweekly,
    /// The 1st of each month.
    Monthly,
}

impl Schedule {
    /// Whether a scheduled run is due on the day of `at` (UTC).
    pub fn runs_on(self, at: DateTime<Utc>) -> bool {
        match self {
            Schedule::Manual => false,
            Schedule::Weekly => at.weekday() == Weekday::Mon,
            Schedule::Biweekly => at.weekday() == Weekday::Mon && at.iso_week().week() % 2 == 0,
            Schedule::Monthly => at.day() == 1,
        }
    }

    /// The next scheduled run at or after `from`: the first time the tick (`tick`, a cron
    /// expression with seconds, `OPENPARTNER_PAYOUT_SCHEDULE_CRON`) fires on a payout day
    /// within 62 days, if the schedule runs at all. A run happens once per payout day, at its
    /// first tick: the caller starts `from` at the next day once today's run is done.
    pub fn next_run(self, from: DateTime<Utc>, tick: &str) -> Option<DateTime<Utc>> {
        if self == Schedule::Manual {
            return None;
        }
        let cron = super::cron::parse(tick)?;
        let from = from.with_nanosecond(0).unwrap_or(from);
        let horizon = from + chrono::Duration::days(62);
        // Each step moves to the next tick, then past its day when that day pays no one: at
        // most 62 searches, and one (to the horizon) for a tick that never fires.
        let mut cursor = from;
        while cursor < horizon {
            let t = cron.find_next_occurrence(&cursor, true).ok()?;
            if t >= horizon {
                return None;
            }
            if self.runs_on(t) {
                return Some(t);
            }
            cursor = (t.date_naive() + chrono::Duration::days(1))
                .and_hms_opt(0, 0, 0)?
                .and_utc();
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn schedules() {
        // 2026-11-23 is a Monday of ISO week 48 (even); 2026-11-30 is week 49.
        assert!(Schedule::Weekly.runs_on(day("2026-11-23T09:00:00Z")));
        assert!(!Schedule::Weekly.runs_on(day("2026-11-24T09:00:00Z")));
        assert!(Schedule::Biweekly.runs_on(day("2026-11-23T09:00:00Z")));
        assert!(!Schedule::Biweekly.runs_on(day("2026-11-30T09:00:00Z")));
        assert!(Schedule::Monthly.runs_on(day("2026-12-01T09:00:00Z")));
        assert!(!Schedule::Manual.runs_on(day("2026-12-01T09:00:00Z")));
        let tick = "0 0 9 * * *";
        assert_eq!(
            Schedule::Weekly.next_run(day("2026-11-22T12:00:00Z"), tick),
            Some(day("2026-11-23T09:00:00Z"))
        );
        assert_eq!(
            Schedule::Monthly.next_run(day("2026-12-01T10:00:00Z"), tick),
            Some(day("2027-01-01T09:00:00Z"))
        );
        assert_eq!(
            Schedule::Manual.next_run(day("2026-12-01T10:00:00Z"), tick),
            None
        );
        // The configured tick, not a fixed hour: hourly at :30 on a payout day.
        assert_eq!(
            Schedule::Weekly.next_run(day("2026-11-23T10:10:00Z"), "0 30 * * * *"),
            Some(day("2026-11-23T10:30:00Z"))
        );
        // Past the day's last tick: the next payout day.
        assert_eq!(
            Schedule::Weekly.next_run(day("2026-11-23T09:00:01Z"), tick),
            Some(day("2026-11-30T09:00:00Z"))
        );
    }
}
