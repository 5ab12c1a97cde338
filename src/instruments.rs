//! Prometheus metrics: the process-wide recorder, the name and help of every series, and the
//! page `/metrics` serves. Code records where things happen through the `metrics` macros and
//! these names; with metrics off (no token, no bind) no recorder is installed and every
//! recording is a no-op.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const HTTP_REQUESTS: &str = "openpartner_http_requests_total";
pub const HTTP_DURATION: &str = "openpartner_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "openpartner_http_requests_in_flight";
pub const REDIRECTS: &str = "openpartner_redirects_total";
pub const CLICKS_QUEUED: &str = "openpartner_clicks_queued_total";
pub const CLICKS_WRITTEN: &str = "openpartner_clicks_written_total";
pub const CLICK_BATCH_SIZE: &str = "openpartner_click_batch_size";
pub const CLICK_COMMIT: &str = "openpartner_click_commit_duration_seconds";
pub const CLICKS_DEAD: &str = "openpartner_clicks_dead_lettered_total";
pub const CONVERSIONS: &str = "openpartner_conversions_total";
pub const COMMISSIONS: &str = "openpartner_commission_status_changes_total";
pub const PAYOUTS: &str = "openpartner_payouts_total";
pub const NETWORK_PUSHES: &str = "openpartner_network_pushes_total";
pub const NETWORK_OUTBOX_PENDING: &str = "openpartner_network_outbox_pending";
pub const NETWORK_OUTBOX_DEAD: &str = "openpartner_network_outbox_dead";
pub const MAIL_SENT: &str = "openpartner_mail_sent_total";
pub const MAIL_FAILED: &str = "openpartner_mail_failed_total";
pub const MAIL_PENDING: &str = "openpartner_mail_pending";
pub const MAIL_DEAD: &str = "openpartner_mail_dead";
pub const WEBHOOK_DELIVERIES: &str = "openpartner_webhook_deliveries_total";
pub const WEBHOOK_PENDING: &str = "openpartner_webhook_deliveries_pending";
pub const JOB_RUNS: &str = "openpartner_job_runs_total";
pub const JOB_FAILURES: &str = "openpartner_job_failures_total";
pub const JOB_DURATION: &str = "openpartner_job_duration_seconds";
pub const DB_POOL_SIZE: &str = "openpartner_db_pool_connections";
pub const DB_POOL_IDLE: &str = "openpartner_db_pool_idle_connections";
pub const DB_POOL_WAIT: &str = "openpartner_db_pool_wait_duration_seconds";
pub const HEARTBEAT_LAST_SUCCESS: &str = "openpartner_heartbeat_last_success_timestamp_seconds";
pub const BUILD_INFO: &str = "openpartner_build_info";

/// Latency buckets in seconds: 1 ms to 10 s.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Job durations run longer: up to ten minutes.
const JOB_BUCKETS: &[f64] = &[0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 600.0];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls return the same handle). `None` when
/// another recorder was installed first.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets(LATENCY_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(JOB_DURATION.into()), JOB_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(CLICK_BATCH_SIZE.into()), BATCH_BUCKETS)
                });
            let handle = match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(h) => h,
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    return None;
                }
            };
            describe();
            metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Some(handle)
        })
        .as_ref()
}

/// The handle, when metrics were installed.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get().and_then(Option::as_ref)
}

/// The status label: its class, so the label set stays small.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The method label: the standard methods by name, anything else `other` (a client may send
/// any token as a method; it must not grow the label set).
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Counts a finished job run and its duration.
pub fn job_run(job: &'static str, started: std::time::Instant) {
    metrics::counter!(JOB_RUNS, "job" => job).increment(1);
    metrics::histogram!(JOB_DURATION, "job" => job).record(started.elapsed().as_secs_f64());
}

/// Counts a job run that failed (its error is logged where it happened).
pub fn job_failed(job: &'static str) {
    metrics::counter!(JOB_FAILURES, "job" => job).increment(1);
}

fn describe() {
    describe_counter!(
        HTTP_REQUESTS,
        "HTTP requests by route template, method and status class."
    );
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "HTTP request latency by route template."
    );
    describe_gauge!(HTTP_IN_FLIGHT, "HTTP requests being served.");
    describe_counter!(REDIRECTS, "Share-link redirects answered, by outcome.");
    describe_counter!(CLICKS_QUEUED, "Clicks queued for the batch writer.");
    describe_counter!(CLICKS_WRITTEN, "Clicks committed to the database.");
    describe_histogram!(CLICK_BATCH_SIZE, "Clicks per committed batch.");
    describe_histogram!(
        CLICK_COMMIT,
        Unit::Seconds,
        "Time to commit one click batch."
    );
    describe_counter!(CLICKS_DEAD, "Clicks set aside as dead letters.");
    describe_counter!(CONVERSIONS, "Conversion events by outcome.");
    describe_counter!(COMMISSIONS, "Commission status changes by new status.");
    describe_counter!(PAYOUTS, "Payout status changes by new status.");
    describe_counter!(NETWORK_PUSHES, "Network outbox pushes by outcome.");
    describe_gauge!(
        NETWORK_OUTBOX_PENDING,
        "Network outbox rows waiting to be pushed."
    );
    describe_gauge!(NETWORK_OUTBOX_DEAD, "Network outbox rows given up on.");
    describe_counter!(MAIL_SENT, "Mail messages sent.");
    describe_counter!(MAIL_FAILED, "Mail delivery attempts that failed.");
    describe_gauge!(MAIL_PENDING, "Mail messages waiting to be sent.");
    describe_gauge!(MAIL_DEAD, "Mail messages given up on.");
    describe_counter!(WEBHOOK_DELIVERIES, "Webhook delivery attempts by outcome.");
    describe_gauge!(
        WEBHOOK_PENDING,
        "Webhook deliveries waiting to be delivered."
    );
    describe_counter!(JOB_RUNS, "Background job runs by job.");
    describe_counter!(JOB_FAILURES, "Background job runs that failed, by job.");
    describe_histogram!(
        JOB_DURATION,
        Unit::Seconds,
        "Background job run time by job."
    );
    describe_gauge!(DB_POOL_SIZE, "Database pool connections open.");
    describe_gauge!(DB_POOL_IDLE, "Database pool connections idle.");
    describe_histogram!(
        DB_POOL_WAIT,
        Unit::Seconds,
        "Time spent waiting for a pooled connection to begin a write transaction."
    );
    describe_gauge!(
        HEARTBEAT_LAST_SUCCESS,
        Unit::Seconds,
        "When the last Network heartbeat succeeded (Unix time)."
    );
    describe_gauge!(BUILD_INFO, "Build information; the value is always 1.");
}
