//! One delivery attempt: sign, send (15 s at most, no redirects, public addresses only), read
//! the first KiB of the answer, and record the outcome. Any 2xx is delivered; 410 disables the
//! endpoint; anything else is retried on the specification's schedule, then failed. An
//! endpoint that has failed every attempt for 5 days is disabled; the admin is emailed when an
//! endpoint is disabled.

use std::time::Instant;

use serde_json::json;

use super::address::{self, UrlError};
use super::signing;
use crate::db;
use crate::db::Tx;
use crate::db::webhook_deliveries::{AttemptResult, Delivery};
use crate::db::webhooks::Endpoint;
use crate::domain::backoff::webhook_next_attempt;
use crate::domain::ids::MailId;
use crate::email::Template;
use crate::state::AppState;

/// The answer kept in the log.
const KEEP_BYTES: usize = 1024;
/// An endpoint failing every attempt for this long is disabled.
const FAILING_FOR_MS: i64 = 5 * 86_400_000;

enum Outcome {
    Delivered,
    /// 410: the receiver says the endpoint is gone for good.
    Gone,
    Failed,
}

/// Sends `d` (claimed by the caller) and records what happened. True when delivered.
pub async fn attempt(state: &AppState, d: &Delivery) -> bool {
    let endpoint = match db::webhooks::get_endpoint(&state.db, &d.endpoint_id).await {
        Ok(Some(e)) if e.enabled => e,
        // Disabled meanwhile (its pending deliveries were failed then), or deleted (its
        // deliveries went with it).
        Ok(Some(_)) => return false,
        // Deleted meanwhile: its deliveries went with it.
        Ok(None) => return false,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a webhook endpoint");
            return false;
        }
    };
    let payload = match db::webhook_deliveries::event_payload(state.db.pool(), &d.event_id).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "could not read a webhook event");
            return false;
        }
    };
    let (outcome, code, latency, response) = match payload {
        None => (Outcome::Failed, None, None, "event_missing".to_string()),
        Some(body) => send(state, &endpoint, d, &body).await,
    };
    let result = AttemptResult {
        status_code: code,
        latency_ms: latency,
        response: &response,
    };
    let label = match outcome {
        Outcome::Delivered => "delivered",
        Outcome::Gone => "gone",
        Outcome::Failed => "failed",
    };
    metrics::counter!(crate::instruments::WEBHOOK_DELIVERIES, "outcome" => label).increment(1);
    let recorded = match outcome {
        Outcome::Delivered => {
            let now = state.clock.now();
            db::webhook_deliveries::mark_delivered(&state.db, d, &result, now).await
        }
        Outcome::Gone => failed(state, &endpoint, d, &result, true).await,
        Outcome::Failed => failed(state, &endpoint, d, &result, false).await,
    };
    if let Err(e) = recorded {
        tracing::error!(delivery_id = %d.id, error = %e, "could not record a webhook attempt");
        return false;
    }
    matches!(outcome, Outcome::Delivered)
}

/// Sends the envelope; returns the outcome, status code, latency and the answer's first KiB
/// (or why there is no answer).
async fn send(
    state: &AppState,
    endpoint: &Endpoint,
    d: &Delivery,
    body: &str,
) -> (Outcome, Option<i64>, Option<i64>, String) {
    let fail = |why: String| (Outcome::Failed, None, None, why);
    let key = state.config.encryption_key.as_ref().map(|k| k.expose());
    let now = state.clock.now();
    let mut secrets = Vec::with_capacity(2);
    match signing::open(key, endpoint.secret.expose()) {
        Some(s) => secrets.push(s),
        None => {
            return fail(
                "secret_unreadable: SECRETS_ENCRYPTION_KEY does not match the stored secret".into(),
            );
        }
    }
    if endpoint.previous_until.is_some_and(|until| until > now) {
        let previous = endpoint.previous_secret.as_ref();
        if let Some(old) = previous.and_then(|s| signing::open(key, s.expose())) {
            secrets.push(old);
        }
    }
    let url = match address::parse(&endpoint.url)
        .and_then(|u| address::check_literal(&u, state.webhooks.allow_private).map(|()| u))
    {
        Ok(u) => u,
        Err(UrlError::NotAllowed(why)) => return fail(format!("url_not_allowed: {why}")),
        Err(UrlError::Invalid(why)) => return fail(format!("invalid_url: {why}")),
    };
    // Seconds since the epoch, as the specification has it; the id is the event's, the same on
    // every attempt so receivers can drop duplicates.
    let timestamp = now.millis().div_euclid(1000);
    let Some(signature) = signing::signature_header(&secrets, &d.event_id, timestamp, body) else {
        return fail("secret_unreadable: the stored secret is malformed".into());
    };
    let started = Instant::now();
    let sent = state
        .webhooks
        .client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &d.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body.to_string())
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return fail(describe(&e)),
    };
    let code = response.status().as_u16();
    let latency = started.elapsed().as_millis() as i64;
    let mut kept = Vec::new();
    // The answer's first KiB, within the same 15 s budget; the rest is never read.
    while kept.len() < KEEP_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    kept.truncate(KEEP_BYTES);
    // PostgreSQL text cannot hold NUL.
    let text = String::from_utf8_lossy(&kept).replace('\0', "");
    let outcome = match code {
        200..=299 => Outcome::Delivered,
        410 => Outcome::Gone,
        _ => Outcome::Failed,
    };
    (outcome, Some(i64::from(code)), Some(latency), text)
}

/// A transport error in a sentence, without the URL (it may carry credentials).
fn describe(e: &reqwest::Error) -> String {
    if let Some(refused) = address::refused_in(e) {
        return refused;
    }
    if e.is_timeout() {
        return format!(
            "timeout: no answer within {} s",
            super::worker::TIMEOUT.as_secs()
        );
    }
    let mut text = if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    // The address guard's refusal leads, however deep the client wrapped it.
    if let Some(at) = text.find("url_not_allowed: ") {
        text = text.split_off(at);
    }
    text.chars().take(KEEP_BYTES).collect()
}

/// Records a failed attempt: retried on the schedule, or failed; disables the endpoint on a
/// 410 or after 5 days of failures, emailing the admin, all in one transaction.
async fn failed(
    state: &AppState,
    endpoint: &Endpoint,
    d: &Delivery,
    result: &AttemptResult<'_>,
    gone: bool,
) -> sqlx::Result<()> {
    let now = state.clock.now();
    let next = if gone {
        None
    } else {
        webhook_next_attempt(d.attempts + 1, now)
    };
    // Ids and codes only: the URL may carry credentials, the answer anything.
    tracing::info!(delivery_id = %d.id, endpoint_id = %endpoint.id, attempts = d.attempts + 1,
        status_code = ?result.status_code, failed = next.is_none(), "webhook attempt failed");
    let mut tx = state.db.begin().await?;
    let failing_since =
        db::webhook_deliveries::attempt_failed(&mut tx, d, result, next, now).await?;
    let reason = if gone {
        Some(("gone", "the receiver answered 410 Gone."))
    } else if failing_since.is_some_and(|t| now.millis() - t.millis() >= FAILING_FOR_MS) {
        Some(("failing", "every delivery attempt has failed for 5 days."))
    } else {
        None
    };
    let mut mail = None;
    if let Some((code, sentence)) = reason {
        if db::webhook_deliveries::disable_endpoint(&mut tx, &endpoint.id, code, now).await? {
            tracing::warn!(endpoint_id = %endpoint.id, reason = code, "webhook endpoint disabled");
            mail = notify_admin(state, &mut tx, endpoint, sentence).await?;
        }
    }
    tx.commit().await?;
    if let Some(id) = mail {
        state.mailer.kick(id);
    }
    Ok(())
}

async fn notify_admin(
    state: &AppState,
    tx: &mut Tx,
    endpoint: &Endpoint,
    reason: &str,
) -> sqlx::Result<Option<MailId>> {
    let Some(admin) = state.config.admin_email.as_deref() else {
        tracing::warn!(
            "OPENPARTNER_ADMIN_EMAIL is not set: nobody is told a webhook endpoint was disabled"
        );
        return Ok(None);
    };
    let ctx = json!({ "url": endpoint.url, "reason": reason, "endpoint_id": endpoint.id });
    let rendered = state
        .mailer
        .render(tx, Template::WebhookDisabled, admin, ctx)
        .await;
    let mail = match rendered {
        Ok(m) => m,
        Err(e) => {
            tracing::error!(error = %e, "could not render the webhook-disabled email");
            return Ok(None);
        }
    };
    state.mailer.enqueue(tx, &mail).await?;
    Ok(Some(mail.id))
}
