//! The payout jobs: daily auto-approval, the scheduled run, and the Network's metering report.

use serde_json::json;

use crate::db;
use crate::domain::money::Currency;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::service::payouts::{RunRequest, RunResult, Settings, run, settings};
use crate::state::AppState;

/// Approves matured commissions in programs with auto-approve on. Once per slot across
/// replicas when scheduled; a plain call approves now.
pub async fn auto_approve(state: &AppState) -> ApiResult<u64> {
    // Each approval commits with its `commission.approved` event.
    crate::service::commissions::auto_approve(state).await
}

/// The daily scheduled tick: runs payouts when the schedule says today is a payout day.
pub async fn scheduled_run(state: &AppState) -> ApiResult<Option<RunResult>> {
    let settings = settings(state).await?;
    let now = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(state.clock.now().millis())
        .unwrap_or_default();
    if !settings.schedule.runs_on(now) {
        return Ok(None);
    }
    // Once per payout day, however often the tick fires (a cron set to fire hourly, say). Two
    // replicas racing past the check are harmless: concurrent runs never pay twice.
    let today = now.date_naive().to_string();
    if db::settings::get(state.db.pool(), SCHEDULED_DAY)
        .await?
        .as_deref()
        == Some(today.as_str())
    {
        return Ok(None);
    }
    let result = run(state, &RunRequest::default()).await?;
    db::settings::set(state.db.pool(), SCHEDULED_DAY, &today).await?;
    Ok(Some(result))
}

/// When the scheduled run next pays: the first tick on the next payout day (tomorrow's at the
/// earliest once today's run is done).
pub async fn next_run_at(state: &AppState, s: &Settings) -> ApiResult<Option<Timestamp>> {
    if s.schedule == crate::domain::payouts::Schedule::Manual {
        return Ok(None);
    }
    let now = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(state.clock.now().millis())
        .unwrap_or_default();
    let today = now.date_naive();
    let ran_today = db::settings::get(state.db.pool(), SCHEDULED_DAY)
        .await?
        .as_deref()
        == Some(today.to_string().as_str());
    let from = match ran_today {
        true => (today + chrono::Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .map_or(now, |t| t.and_utc()),
        false => now,
    };
    Ok(s.schedule
        .next_run(from, &state.config.payout_schedule_cron)
        .map(|t| Timestamp::from_millis(t.timestamp_millis())))
}

/// The last day (UTC, `YYYY-MM-DD`) a scheduled run completed.
const SCHEDULED_DAY: &str = "payout_schedule_last_day";

const REPORT_MARK: &str = "network_report_until";
const REPORT_MARGIN_MS: i64 = 60_000;

/// The Network's metering report: USD paid to Network-sourced partners since the last
/// accepted report. The mark advances only on a 2xx (or a zero amount, which sends nothing).
/// Other currencies are not converted (we hold no exchange rates): they are left out.
pub async fn report_to_network(state: &AppState) -> ApiResult<Option<i64>> {
    let network = db::network::get(state.db.pool()).await?;
    let Ok(token) = crate::network::vendor_token(state, &network) else {
        return Ok(None);
    };
    let since = db::settings::get(state.db.pool(), REPORT_MARK)
        .await?
        .and_then(|s| s.parse::<i64>().ok())
        .map_or(Timestamp::from_millis(0), Timestamp::from_millis);
    // A margin behind now: a payout stamped paid just before `until` may still be committing.
    let until = state.clock.now().plus_millis(-REPORT_MARGIN_MS);
    if until <= since {
        return Ok(Some(0));
    }
    let minor = db::payout_reports::network_usd_paid(state.db.pool(), since, until).await?;
    if minor > 0 {
        let usd = Currency::usd();
        // The shortest f64 that reads back as the decimal: exact for any cent amount below
        // 2^53 (the wire wants a JSON number).
        let amount: f64 = usd
            .format_minor(minor)
            .parse()
            .map_err(|e| ApiError::internal(format_args!("USD amount {minor}: {e}")))?;
        let body = json!({
            "amountUsd": amount,
            "sinceIso": since.to_rfc3339(),
            "untilIso": until.to_rfc3339(),
        });
        if let Err(e) = state
            .network
            .post(
                "/vendors/me/report-payouts",
                Some(&token),
                &body,
                crate::network::client::ADMIN_TIMEOUT,
            )
            .await
        {
            tracing::warn!(reason = %e, "payout report to the Network failed; will resend");
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_GATEWAY,
                "network_call_failed",
                e.detail(),
            ));
        }
    }
    db::settings::set(state.db.pool(), REPORT_MARK, &until.millis().to_string()).await?;
    Ok(Some(minor))
}
