//! `POST /webhooks/stripe`: Stripe's events, verified (`Stripe-Signature` under any configured
//! endpoint secret, 300 s tolerance), stored by event id before the answer, processed from
//! storage (`service::stripe_events`). And the admin's view of them: `GET /admin/stripe/events`,
//! `POST /admin/stripe/events/:id/retry`.

use axum::Json;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::stripe::{NewStripeEvent, StripeEvent};
use crate::domain::cursor::Position;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, ApiQuery, payload_too_large};
use crate::http::paging;
use crate::http::partners::parse_limit;
use crate::service::stripe_events as events;
use crate::state::AppState;
use crate::stripe::signature::{self, SignatureError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(receive))
        .routes(routes!(list_events))
        .routes(routes!(retry_event))
}

/// The largest event body accepted.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

#[derive(Serialize, utoipa::ToSchema)]
pub struct WebhookAck {
    received: bool,
    /// True when this event id was already stored (a redelivery: nothing changed).
    duplicate: bool,
}

/// What we read of an event's envelope; everything else is kept as received.
#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    created: Option<i64>,
    livemode: Option<bool>,
    /// A connected account's id on events from Connect (an endpoint that also listens to
    /// connected accounts); absent on the brand's own.
    account: Option<String>,
    data: Option<Value>,
}

fn invalid_signature(e: SignatureError) -> ApiError {
    let detail = match e {
        SignatureError::Missing => "The Stripe-Signature header is missing.",
        SignatureError::Malformed => "The Stripe-Signature header is not t=<unix>,v1=<hex>.",
        SignatureError::Expired => "The signature's timestamp is outside the 300 s tolerance.",
        SignatureError::NoMatch => "No signature matches a configured endpoint secret.",
    };
    ApiError::bad_request("invalid_signature", detail)
}

/// Receive a Stripe event. Answered 200 once the verified event is stored; a redelivered
/// event id answers 200 and changes nothing; types nothing processes are stored as ignored.
#[utoipa::path(post, path = "/webhooks/stripe", tag = "stripe",
    params(("Stripe-Signature" = String, Header, description = "`t=<unix>,v1=<hex>[,v1=…]`")),
    request_body(content = Object, description = "A Stripe event, as Stripe sends it (at most 1 MiB)"),
    responses((status = 200, body = WebhookAck),
        (status = 400, description = "`invalid_signature` (bad, missing or expired; nothing stored), `invalid_event`", body = ErrorBody),
        (status = 413, description = "`payload_too_large`", body = ErrorBody),
        (status = 503, description = "`stripe_webhook_not_configured` (no STRIPE_WEBHOOK_SECRET): Stripe retries", body = ErrorBody)))]
async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    req: Request,
) -> ApiResult<Json<WebhookAck>> {
    let secrets = state.config.stripe_webhook_secrets.expose();
    if secrets.is_empty() {
        return Err(ApiError::unavailable(
            "stripe_webhook_not_configured",
            "No Stripe webhook signing secret is configured (STRIPE_WEBHOOK_SECRET).",
        ));
    }
    let body = axum::body::to_bytes(req.into_body(), MAX_EVENT_BYTES)
        .await
        .map_err(|_| payload_too_large())?;
    let header = headers
        .get("stripe-signature")
        .map(|v| v.to_str().unwrap_or_default());
    let now = state.clock.now().millis().div_euclid(1000);
    signature::verify(header, &body, secrets, now).map_err(invalid_signature)?;
    // What a verified Stripe event changes is Stripe's doing, not an anonymous caller's.
    crate::db::audit::set_actor(crate::db::audit::Actor::system("stripe_webhook"));
    let event: Envelope = serde_json::from_slice(&body)
        .ok()
        .filter(|e: &Envelope| !e.id.is_empty() && e.id.len() <= 255 && !e.event_type.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_event",
                "The body is not a Stripe event (id, type).",
            )
        })?;
    let payload = std::str::from_utf8(&body)
        .map_err(|_| ApiError::bad_request("invalid_event", "The body is not UTF-8."))?;
    let object_id = event
        .data
        .as_ref()
        .and_then(|d| d.pointer("/object/id"))
        .and_then(Value::as_str);
    // A connected account's sales and refunds are its own business, not the brand's: of its
    // events only `account.updated` (onboarding status) is ours.
    let handled = events::handles(&event.event_type)
        && (event.account.is_none() || event.event_type == "account.updated");
    let inserted = db::stripe::insert_event(
        state.db.pool(),
        &NewStripeEvent {
            id: &event.id,
            event_type: &event.event_type,
            payload,
            object_id,
            livemode: event.livemode.unwrap_or(false),
            stripe_created: event
                .created
                .map(|s| Timestamp::from_millis(s.saturating_mul(1000))),
            ignored: !handled,
        },
        state.clock.now(),
    )
    .await?;
    if inserted && handled {
        events::kick(&state, event.id);
    }
    Ok(Json(WebhookAck {
        received: true,
        duplicate: !inserted,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripeEventView {
    /// Stripe's event id (`evt_…`).
    id: String,
    #[serde(rename = "type")]
    event_type: String,
    /// `pending`, `processed`, `ignored` or `dead`.
    status: String,
    /// What processing concluded: `recorded`, `duplicate`, `ignored`,
    /// `ignored_no_attribution`, `ignored_livemode_mismatch` (a live event at a test key, or the
    /// reverse) or `dead`; null while pending.
    outcome: Option<String>,
    /// `data.object.id` (the account, invoice… the event is about).
    object_id: Option<String>,
    livemode: bool,
    attempts: i64,
    /// The last failure, or why it was given up.
    last_error: Option<String>,
    /// When Stripe created the event.
    created: Option<Timestamp>,
    received_at: Timestamp,
    processed_at: Option<Timestamp>,
    /// When the next attempt is due (pending events only).
    next_attempt_at: Option<Timestamp>,
}

impl From<StripeEvent> for StripeEventView {
    fn from(e: StripeEvent) -> Self {
        let pending = e.status == "pending";
        StripeEventView {
            id: e.id,
            event_type: e.event_type,
            status: e.status,
            outcome: e.outcome,
            object_id: e.object_id,
            livemode: e.livemode,
            attempts: e.attempts,
            last_error: e.last_error,
            created: e.stripe_created,
            received_at: e.received_at,
            processed_at: e.processed_at,
            next_attempt_at: pending.then_some(e.next_attempt_at),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StripeEventList {
    events: Vec<StripeEventView>,
    /// Null on the last page.
    next_cursor: Option<String>,
    /// The endpoint URL to give Stripe's dashboard.
    webhook_url: String,
}

/// What `?status=` filters on: a status, or an outcome.
const STATUS_FILTERS: &[&str] = &[
    "pending",
    "processed",
    "ignored",
    "dead",
    "recorded",
    "duplicate",
    "ignored_no_attribution",
];

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// A status (`pending`, `processed`, `ignored`, `dead`) or an outcome (`recorded`,
    /// `duplicate`, `ignored_no_attribution`, `dead`).
    status: Option<String>,
    /// 1–200, default 50.
    limit: Option<String>,
    /// Opaque, from a previous `nextCursor`.
    cursor: Option<String>,
}

/// Received Stripe events, newest first, with what processing made of them.
#[utoipa::path(get, path = "/admin/stripe/events", tag = "stripe", security(("bearer" = [])),
    params(EventsQuery),
    responses((status = 200, body = StripeEventList),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn list_events(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<Json<StripeEventList>> {
    auth.require_admin()?;
    let status = q.status.as_deref().filter(|s| !s.is_empty());
    if status.is_some_and(|s| !STATUS_FILTERS.contains(&s)) {
        return Err(ApiError::invalid_query(format!(
            "status must be one of {}",
            STATUS_FILTERS.join(", ")
        )));
    }
    let limit = parse_limit(q.limit.as_deref(), 50, 200)?;
    let after = paging::after(&state, q.cursor.as_deref())?;
    let mut page = db::stripe::list_events(
        state.db.pool(),
        status,
        after
            .as_ref()
            .map(|p| (Timestamp::from_millis(p.created_at), p.id.as_str())),
        limit + 1,
    )
    .await?;
    let next_cursor = paging::next_cursor(&state, &mut page, limit, |e| Position {
        created_at: e.received_at.millis(),
        id: e.id.clone(),
    });
    Ok(Json(StripeEventList {
        events: page.into_iter().map(StripeEventView::from).collect(),
        next_cursor,
        webhook_url: format!("{}/webhooks/stripe", state.config.public_url),
    }))
}

/// Put a dead event back in the queue with a fresh retry schedule, and attempt it now.
#[utoipa::path(post, path = "/admin/stripe/events/{id}/retry", tag = "stripe", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = StripeEventView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_dead`: only a dead event is retried", body = ErrorBody)))]
async fn retry_event(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<StripeEventView>> {
    auth.require_admin()?;
    if !db::stripe::revive_event(&state.db, &id, state.clock.now()).await? {
        return match db::stripe::get_event(state.db.pool(), &id).await? {
            None => Err(ApiError::not_found("No such Stripe event.")),
            Some(e) => Err(ApiError::conflict(
                "not_dead",
                format!("This event is {}; only a dead event is retried.", e.status),
            )),
        };
    }
    let event = db::stripe::get_event(state.db.pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such Stripe event."))?;
    events::kick(&state, id);
    Ok(Json(event.into()))
}
