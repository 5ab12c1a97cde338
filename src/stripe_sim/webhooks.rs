//! Webhooks as Stripe sends them: an event envelope
//! `{id, object: "event", api_version, created, data: {object, previous_attributes?}, livemode,
//! pending_webhooks, request, type}`, POSTed as JSON with
//! `Stripe-Signature: t=<unix>,v1=<HMAC-SHA256 of "<t>.<raw body>">` under the endpoint secret.
//! Timestamps are sim time.

use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use super::{Shared, lock};

/// The API version events are rendered in.
pub const API_VERSION: &str = "2024-06-20";

/// One webhook sent.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub url: Option<String>,
    /// Our endpoint's answer, when one came.
    pub status: Option<u16>,
    /// Why no answer came (transport error, no URL configured).
    pub error: Option<String>,
    /// The raw body sent.
    pub payload: String,
    pub signature: Option<String>,
}

/// An event to send. `id`, `created`, `timestamp` and `secret` default to a fresh id, now, now
/// and the configured endpoint secret.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub event_type: String,
    pub object: Value,
    pub previous_attributes: Option<Value>,
    pub id: Option<String>,
    pub created: Option<i64>,
    /// Sign at this unix time (an old one makes an expired signature).
    pub timestamp: Option<i64>,
    /// Sign with this secret instead of the configured one.
    pub secret: Option<String>,
}

/// Builds, signs and sends `out` to the configured URL; records and returns the delivery.
pub async fn send(state: &Shared, out: Outgoing) -> Delivery {
    let (target, now) = {
        let st = lock(state);
        (st.webhook.clone(), st.now())
    };
    let id = out.id.unwrap_or_else(|| super::api::new_id("evt"));
    let mut data = json!({ "object": out.object });
    if let Some(previous) = out.previous_attributes {
        data["previous_attributes"] = previous;
    }
    let event = json!({
        "id": id, "object": "event", "api_version": API_VERSION,
        "created": out.created.unwrap_or(now), "data": data, "livemode": false,
        "pending_webhooks": 1, "request": {"id": null, "idempotency_key": null},
        "type": out.event_type,
    });
    let payload = event.to_string();
    let mut delivery = Delivery {
        event_id: id,
        event_type: out.event_type,
        url: target.as_ref().map(|t| t.url.clone()),
        status: None,
        error: None,
        payload,
        signature: None,
    };
    match target {
        None => delivery.error = Some("no webhook URL configured".into()),
        Some(target) => {
            let secret = out.secret.unwrap_or(target.secret);
            let signature = crate::stripe::signature::sign(
                &secret,
                out.timestamp.unwrap_or(now),
                delivery.payload.as_bytes(),
            );
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default();
            let sent = client
                .post(&target.url)
                .header("content-type", "application/json; charset=utf-8")
                .header(
                    "user-agent",
                    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                )
                .header("stripe-signature", &signature)
                .body(delivery.payload.clone())
                .send()
                .await;
            delivery.signature = Some(signature);
            match sent {
                Ok(res) => delivery.status = Some(res.status().as_u16()),
                Err(e) => delivery.error = Some(e.to_string()),
            }
        }
    }
    lock(state).deliveries.push(delivery.clone());
    delivery
}
