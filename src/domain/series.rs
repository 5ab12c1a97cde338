//! Time series buckets: a range cut into UTC days, ISO weeks (from Monday) or calendar months,
//! with the bounds every series request must stay within.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};

use super::time::Timestamp;

/// A UTC day in epoch milliseconds.
pub const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    Day,
    Week,
    Month,
}

impl Interval {
    pub fn parse(s: &str) -> Option<Interval> {
        match s {
            "day" => Some(Interval::Day),
            "week" => Some(Interval::Week),
            "month" => Some(Interval::Month),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Interval::Day => "day",
            Interval::Week => "week",
            Interval::Month => "month",
        }
    }

    /// The most buckets one request may ask for.
    pub fn max_buckets(self) -> usize {
        match self {
            Interval::Day => 400,
            Interval::Week => 260,
            Interval::Month => 120,
        }
    }
}

fn date_of(at: Timestamp) -> Option<NaiveDate> {
    DateTime::<Utc>::from_timestamp_millis(at.millis()).map(|d| d.date_naive())
}

fn start_of(date: NaiveDate) -> Timestamp {
    Timestamp::from_millis(
        date.and_hms_opt(0, 0, 0)
            .map_or(0, |d| d.and_utc().timestamp_millis()),
    )
}

/// The start of the bucket holding `date`.
fn bucket_date(date: NaiveDate, interval: Interval) -> NaiveDate {
    match interval {
        Interval::Day => date,
        Interval::Week => date - Duration::days(i64::from(date.weekday().num_days_from_monday())),
        Interval::Month => date.with_day(1).unwrap_or(date),
    }
}

fn next_bucket(date: NaiveDate, interval: Interval) -> Option<NaiveDate> {
    match interval {
        Interval::Day => date.succ_opt(),
        Interval::Week => date.checked_add_signed(Duration::days(7)),
        Interval::Month => date.checked_add_months(chrono::Months::new(1)),
    }
}

/// The buckets' starts covering `[since, until)`: the first is the bucket holding `since`, the
/// last the one holding the instant before `until`. `Err` names what is out of bounds.
pub fn bucket_starts(
    since: Timestamp,
    until: Timestamp,
    interval: Interval,
) -> Result<Vec<Timestamp>, String> {
    if since >= until {
        return Err("since must be before until".into());
    }
    let (Some(first), Some(last)) = (date_of(since), date_of(until.plus_millis(-1))) else {
        return Err("since and until must be dates between the years 1970 and 9999".into());
    };
    if since.millis() < 0 || first.year() > 9999 || last.year() > 9999 {
        return Err("since and until must be dates between the years 1970 and 9999".into());
    }
    let mut starts = Vec::new();
    let mut at = bucket_date(first, interval);
    while at <= last {
        if starts.len() == interval.max_buckets() {
            return Err(format!(
                "at most {} buckets of a {} per request",
                interval.max_buckets(),
                interval.as_str()
            ));
        }
        starts.push(start_of(at));
        match next_bucket(at, interval) {
            Some(next) => at = next,
            None => break,
        }
    }
    Ok(starts)
}

/// The index of the bucket holding `day` (a `ts / DAY_MS` day number) among sorted `starts`.
pub fn bucket_of(starts: &[Timestamp], day: i64) -> Option<usize> {
    let at = day.checked_mul(DAY_MS)?;
    let i = starts.partition_point(|s| s.millis() <= at);
    i.checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn days_cover_the_range() {
        let b = bucket_starts(
            ts("2026-01-01T10:00:00Z"),
            ts("2026-01-03T00:00:00Z"),
            Interval::Day,
        )
        .unwrap();
        assert_eq!(
            b,
            vec![ts("2026-01-01T00:00:00Z"), ts("2026-01-02T00:00:00Z")]
        );
        assert_eq!(bucket_of(&b, b[1].millis() / DAY_MS), Some(1));
        assert_eq!(bucket_of(&b, b[0].millis() / DAY_MS - 1), None);
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        // 2026-01-01 is a Thursday.
        let w = bucket_starts(
            ts("2026-01-01T00:00:00Z"),
            ts("2026-01-06T00:00:00Z"),
            Interval::Week,
        )
        .unwrap();
        assert_eq!(
            w,
            vec![ts("2025-12-29T00:00:00Z"), ts("2026-01-05T00:00:00Z")]
        );
        let m = bucket_starts(
            ts("2026-01-15T00:00:00Z"),
            ts("2026-03-02T00:00:00Z"),
            Interval::Month,
        )
        .unwrap();
        assert_eq!(m.len(), 3);
        assert_eq!(m[1], ts("2026-02-01T00:00:00Z"));
    }

    #[test]
    fn ranges_are_bounded() {
        assert!(
            bucket_starts(
                ts("2020-01-01T00:00:00Z"),
                ts("2026-01-01T00:00:00Z"),
                Interval::Day
            )
            .is_err()
        );
        assert!(
            bucket_starts(
                ts("2026-01-02T00:00:00Z"),
                ts("2026-01-01T00:00:00Z"),
                Interval::Day
            )
            .is_err()
        );
    }
}
