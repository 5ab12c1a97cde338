//! `/_sim` controls for tests and demos, and the onboarding page account links point at.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::webhooks::{self, Delivery, Outgoing};
use super::{Fault, Shared, WebhookTarget, lock};

pub fn router() -> Router<Shared> {
    Router::new()
        .route("/_sim/state", get(state))
        .route("/_sim/requests", get(requests))
        .route("/_sim/transfers", get(transfers))
        .route("/_sim/balance", post(set_balance))
        .route("/_sim/faults", post(fault))
        .route("/_sim/clock/advance", post(advance))
        .route("/_sim/links/expire", post(expire_links))
        .route("/_sim/onboard/{link}", get(onboard))
        .route("/_sim/accounts/{id}/update", post(update))
        .route("/_sim/webhooks/config", post(webhook_config))
        .route("/_sim/webhooks/send", post(send_event))
}

fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

async fn state(State(state): State<Shared>) -> Json<Value> {
    Json(serde_json::to_value(&*lock(&state)).unwrap_or(Value::Null))
}

async fn requests(State(state): State<Shared>) -> Json<Value> {
    Json(json!({ "requests": lock(&state).requests }))
}

async fn transfers(State(state): State<Shared>) -> Json<Value> {
    Json(json!({ "transfers": lock(&state).transfers }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BalanceBody {
    currency: String,
    /// Minor units.
    amount: i64,
}

async fn set_balance(State(state): State<Shared>, Json(b): Json<BalanceBody>) -> Json<Value> {
    let mut st = lock(&state);
    st.balances
        .insert(b.currency.to_ascii_lowercase(), b.amount);
    Json(json!({ "balances": st.balances }))
}

async fn fault(State(state): State<Shared>, Json(fault): Json<Fault>) -> Json<Value> {
    lock(&state).faults.push(fault);
    Json(json!({ "ok": true }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdvanceBody {
    seconds: i64,
}

async fn advance(State(state): State<Shared>, Json(b): Json<AdvanceBody>) -> Json<Value> {
    let mut st = lock(&state);
    st.clock_offset_secs += b.seconds;
    Json(json!({ "now": st.now() }))
}

async fn expire_links(State(state): State<Shared>) -> Json<Value> {
    let sim = super::StripeSim {
        url: String::new(),
        state,
    };
    sim.expire_links();
    Json(json!({ "ok": true }))
}

fn redirect(to: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to.to_string())]).into_response()
}

/// The page an account link opens. A live, unused onboarding link completes the account (details
/// submitted, payouts enabled, requested capabilities active), sends the signed
/// `account.updated` webhook, then redirects to the link's `return_url`; an expired or used link
/// redirects to its `refresh_url`.
async fn onboard(State(state): State<Shared>, Path(link): Path<String>) -> Response {
    let (account, return_url, onboarding) = {
        let mut st = lock(&state);
        let now = st.now();
        let Some(link) = st.links.get_mut(&link) else {
            return (StatusCode::NOT_FOUND, "This link is not valid.").into_response();
        };
        if link.visited || link.expires_at < now {
            return redirect(&link.refresh_url);
        }
        link.visited = true;
        (
            link.account.clone(),
            link.return_url.clone(),
            link.link_type == "account_onboarding",
        )
    };
    if onboarding {
        update_account(&state, &account, Some(true), Some(true)).await;
    }
    redirect(&return_url)
}

/// Changes an account and sends `account.updated` with the changed fields in
/// `previous_attributes`.
pub async fn update_account(
    state: &Shared,
    id: &str,
    details_submitted: Option<bool>,
    payouts_enabled: Option<bool>,
) -> Option<Delivery> {
    let (object, previous) = {
        let mut st = lock(state);
        let account = st.accounts.get_mut(id)?;
        let mut previous = serde_json::Map::new();
        if let Some(d) = details_submitted.filter(|d| *d != account.details_submitted) {
            previous.insert("details_submitted".into(), json!(account.details_submitted));
            account.details_submitted = d;
        }
        if let Some(p) = payouts_enabled.filter(|p| *p != account.payouts_enabled) {
            previous.insert("payouts_enabled".into(), json!(account.payouts_enabled));
            previous.insert("capabilities".into(), json!(account.capabilities));
            account.payouts_enabled = p;
            let status = if p { "active" } else { "inactive" };
            for capability in account.capabilities.values_mut() {
                *capability = status.to_string();
            }
        }
        (super::api::account_json(account), Value::Object(previous))
    };
    Some(
        webhooks::send(
            state,
            Outgoing {
                event_type: "account.updated".into(),
                object,
                previous_attributes: Some(previous),
                ..Default::default()
            },
        )
        .await,
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UpdateBody {
    details_submitted: Option<bool>,
    payouts_enabled: Option<bool>,
}

async fn update(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(b): Json<UpdateBody>,
) -> Response {
    match update_account(&state, &id, b.details_submitted, b.payouts_enabled).await {
        Some(delivery) => Json(delivery).into_response(),
        None => error(StatusCode::NOT_FOUND, "account_not_found"),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookConfig {
    url: String,
    secret: String,
}

async fn webhook_config(State(state): State<Shared>, Json(b): Json<WebhookConfig>) -> Json<Value> {
    lock(&state).webhook = Some(WebhookTarget {
        url: b.url,
        secret: b.secret,
    });
    Json(json!({ "ok": true }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SendBody {
    #[serde(rename = "type")]
    event_type: String,
    object: Value,
    id: Option<String>,
    created: Option<i64>,
    previous_attributes: Option<Value>,
    /// Sign at this unix time instead of now.
    timestamp: Option<i64>,
    /// Sign with this secret instead of the configured one.
    secret: Option<String>,
}

/// Sends an arbitrary signed event to the configured webhook URL; answers the delivery.
async fn send_event(State(state): State<Shared>, Json(b): Json<SendBody>) -> Json<Delivery> {
    Json(
        webhooks::send(
            &state,
            Outgoing {
                event_type: b.event_type,
                object: b.object,
                previous_attributes: b.previous_attributes,
                id: b.id,
                created: b.created,
                timestamp: b.timestamp,
                secret: b.secret,
            },
        )
        .await,
    )
}
