//! Outbound webhooks, signed to the Standard Webhooks specification (docs/webhooks.md).
//!
//! An event is recorded by [`record`] in the transaction of the change that causes it, with
//! one pending delivery per subscribed endpoint: a change that rolls back sends nothing, and
//! a committed one is never lost. Deliveries are sent by [`deliver`]'s worker, which any
//! replica may run: each is claimed with a lease by one replica, only the oldest pending
//! delivery of an endpoint is sent (so an endpoint receives events in order), and each
//! endpoint is worked in a task of its own (so a slow one delays no other).

pub mod address;
pub mod attempt;
pub mod deliver;
pub mod signing;
pub mod worker;

use serde::Serialize;
use serde_json::Value;

use crate::db;
use crate::db::Tx;
use crate::domain::time::Timestamp;

/// The event types. Their names are a public contract (docs/webhooks.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    PartnerCreated,
    PartnerActivated,
    PartnerRevoked,
    PartnerReinstated,
    LinkCreated,
    ConversionCreated,
    CommissionCreated,
    CommissionApproved,
    CommissionReversed,
    CommissionPaid,
    PayoutCreated,
    PayoutPaid,
    PayoutFailed,
    NetworkPartnerFederated,
    /// Sent by `POST /webhooks/:id/test` to that endpoint only; nobody subscribes to it.
    WebhookTest,
}

impl EventType {
    /// Every type an endpoint may subscribe to.
    pub const SUBSCRIBABLE: [EventType; 14] = [
        EventType::PartnerCreated,
        EventType::PartnerActivated,
        EventType::PartnerRevoked,
        EventType::PartnerReinstated,
        EventType::LinkCreated,
        EventType::ConversionCreated,
        EventType::CommissionCreated,
        EventType::CommissionApproved,
        EventType::CommissionReversed,
        EventType::CommissionPaid,
        EventType::PayoutCreated,
        EventType::PayoutPaid,
        EventType::PayoutFailed,
        EventType::NetworkPartnerFederated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PartnerCreated => "partner.created",
            EventType::PartnerActivated => "partner.activated",
            EventType::PartnerRevoked => "partner.revoked",
            EventType::PartnerReinstated => "partner.reinstated",
            EventType::LinkCreated => "link.created",
            EventType::ConversionCreated => "conversion.created",
            EventType::CommissionCreated => "commission.created",
            EventType::CommissionApproved => "commission.approved",
            EventType::CommissionReversed => "commission.reversed",
            EventType::CommissionPaid => "commission.paid",
            EventType::PayoutCreated => "payout.created",
            EventType::PayoutPaid => "payout.paid",
            EventType::PayoutFailed => "payout.failed",
            EventType::NetworkPartnerFederated => "network.partner_federated",
            EventType::WebhookTest => "webhook.test",
        }
    }

    /// A subscribable type by name.
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::SUBSCRIBABLE
            .into_iter()
            .find(|t| t.as_str() == name)
    }
}

/// The object an event carries as `data`: exactly the view the API answers for it. Each view
/// type implements it for its stored row, next to the view (`http::partners` for partners,
/// and so on), so services record events without knowing the HTTP layer and `data` cannot
/// drift from the API.
pub trait EventData {
    fn event_data(&self, public_url: &str) -> Value;
}

/// A view already rendered as JSON text (e.g. the stored answer to `POST /events`).
pub struct RenderedView<'a>(pub &'a str);

impl EventData for RenderedView<'_> {
    fn event_data(&self, _public_url: &str) -> Value {
        serde_json::from_str(self.0).unwrap_or(Value::Null)
    }
}

/// The envelope every delivery carries.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    created_at: Timestamp,
    data: &'a Value,
}

/// Records an event in `tx`, the transaction of the change that causes it, with one pending
/// delivery per enabled endpoint subscribed to its type. Nothing is stored when no endpoint
/// wants it. Returns the event id when one was recorded.
///
/// This is the one function other code calls to emit an event, e.g. a payout:
/// `webhooks::record(&mut tx, EventType::PayoutPaid, payout.event_data(url), now).await?`
/// before `tx.commit()`.
pub async fn record(
    tx: &mut Tx,
    event: EventType,
    data: Value,
    now: Timestamp,
) -> sqlx::Result<Option<String>> {
    let endpoints = db::webhooks::subscribed_endpoints(&mut **tx, event.as_str()).await?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    let (id, _) = insert(tx, event, &data, &endpoints, now).await?;
    Ok(Some(id))
}

/// [`record`] with `data` the API view of `object`, built only when an endpoint wants it.
pub async fn record_view(
    tx: &mut Tx,
    event: EventType,
    object: &impl EventData,
    public_url: &str,
    now: Timestamp,
) -> sqlx::Result<Option<String>> {
    let endpoints = db::webhooks::subscribed_endpoints(&mut **tx, event.as_str()).await?;
    if endpoints.is_empty() {
        return Ok(None);
    }
    let data = object.event_data(public_url);
    let (id, _) = insert(tx, event, &data, &endpoints, now).await?;
    Ok(Some(id))
}

/// [`record_view`] for many objects of one event type: the subscribers are read once.
pub async fn record_views<T: EventData>(
    tx: &mut Tx,
    event: EventType,
    objects: &[T],
    public_url: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let endpoints = db::webhooks::subscribed_endpoints(&mut **tx, event.as_str()).await?;
    if endpoints.is_empty() {
        return Ok(());
    }
    for object in objects {
        insert(tx, event, &object.event_data(public_url), &endpoints, now).await?;
    }
    Ok(())
}

/// Records a `webhook.test` event for one endpoint; returns its delivery id.
pub async fn record_test(tx: &mut Tx, endpoint_id: &str, now: Timestamp) -> sqlx::Result<String> {
    let data = serde_json::json!({
        "endpointId": endpoint_id,
        "message": "A test event sent from OpenPartner.",
    });
    let (_, mut deliveries) = insert(
        tx,
        EventType::WebhookTest,
        &data,
        &[endpoint_id.to_string()],
        now,
    )
    .await?;
    Ok(deliveries.pop().unwrap_or_default())
}

async fn insert(
    tx: &mut Tx,
    event: EventType,
    data: &Value,
    endpoints: &[String],
    now: Timestamp,
) -> sqlx::Result<(String, Vec<String>)> {
    let id = format!("evt_{}", ulid::Ulid::new());
    let payload = serde_json::to_string(&Envelope {
        id: &id,
        kind: event.as_str(),
        created_at: now,
        data,
    })
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let deliveries =
        db::webhooks::insert_event(tx, &id, event.as_str(), &payload, endpoints, now).await?;
    Ok((id, deliveries))
}
