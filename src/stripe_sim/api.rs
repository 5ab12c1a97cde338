//! The Stripe API calls the brand instance makes: `POST /v1/accounts`,
//! `POST /v1/account_links`, `GET /v1/accounts/:id`, `POST /v1/transfers`. Parameter names,
//! objects and refusals follow Stripe's published OpenAPI description and error docs.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::idempotency::{self, Refusal};
use super::wire::{self, StripeErr};
use super::{LINK_TTL_SECS, Shared, SimAccount, SimLink, SimState, SimTransfer, lock};

pub fn router() -> Router<Shared> {
    Router::new()
        .route("/v1/accounts", post(create_account))
        .route("/v1/accounts/{id}", get(get_account))
        .route("/v1/account_links", post(create_account_link))
        .route("/v1/transfers", post(create_transfer).get(list_transfers))
}

/// A Stripe-looking id: `prefix_` and 24 characters.
pub(super) fn new_id(prefix: &str) -> String {
    let u = ulid::Ulid::new().to_string();
    format!("{prefix}_1{}", &u[3..])
}

pub(super) fn account_json(a: &SimAccount) -> Value {
    json!({
        "id": a.id, "object": "account", "type": a.account_type, "email": a.email,
        "country": a.country, "default_currency": "usd", "business_type": null,
        "capabilities": a.capabilities, "charges_enabled": a.charges_enabled,
        "details_submitted": a.details_submitted, "payouts_enabled": a.payouts_enabled,
        "metadata": a.metadata, "created": a.created,
        "controller": {"type": "application", "is_controller": true},
        "requirements": {
            "currently_due": if a.details_submitted { json!([]) } else { json!(["individual.first_name", "tos_acceptance.date"]) },
            "disabled_reason": if a.payouts_enabled { Value::Null } else { json!("requirements.past_due") },
        },
    })
}

fn transfer_json(t: &SimTransfer) -> Value {
    json!({
        "id": t.id, "object": "transfer", "amount": t.amount, "amount_reversed": 0,
        "balance_transaction": new_id("txn"), "created": t.created, "currency": t.currency,
        "description": t.description, "destination": t.destination,
        "destination_payment": new_id("py"), "livemode": false, "metadata": t.metadata,
        "reversals": {"object": "list", "data": [], "has_more": false, "total_count": 0,
            "url": format!("/v1/transfers/{}/reversals", t.id)},
        "reversed": false, "source_transaction": null, "source_type": "card",
        "transfer_group": t.transfer_group,
    })
}

fn boolean(value: &str, param: &str) -> Result<bool, StripeErr> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(StripeErr::request(
            "parameter_invalid_boolean",
            format!("Invalid boolean: {value}"),
            Some(param),
        )),
    }
}

async fn create_account(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = lock(&state);
    let call = match wire::parse_post(&st, &headers, &body) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    idempotency::run(&mut st, &call, "POST", "/v1/accounts", |st, p| {
        p.only(&[
            &["type"],
            &["email"],
            &["country"],
            &["business_type"],
            &["default_currency"],
            &["capabilities", "*", "requested"],
            &["metadata", "*"],
            &["expand", "*"],
        ])?;
        let account_type = p.get("type").unwrap_or("standard").to_string();
        if !matches!(account_type.as_str(), "express" | "standard" | "custom") {
            return Err(StripeErr::request(
                "parameter_invalid_string",
                "Invalid type: must be one of custom, express, or standard",
                Some("type"),
            )
            .into());
        }
        let mut capabilities = BTreeMap::new();
        for (key, value) in &p.0 {
            if let Some(name) = key
                .strip_prefix("capabilities[")
                .and_then(|r| r.strip_suffix("][requested]"))
            {
                if boolean(value, key)? {
                    capabilities.insert(name.to_string(), "inactive".to_string());
                }
            }
        }
        let email = p.get("email").map(str::to_string);
        if email.as_ref().is_some_and(|e| !e.contains('@')) {
            return Err(StripeErr::request(
                "email_invalid",
                "Invalid email address",
                Some("email"),
            )
            .into());
        }
        let account = SimAccount {
            id: new_id("acct"),
            account_type,
            email,
            country: p.get("country").unwrap_or("US").to_string(),
            details_submitted: false,
            payouts_enabled: false,
            charges_enabled: false,
            capabilities,
            metadata: p.metadata()?,
            created: st.now(),
        };
        let body = account_json(&account);
        st.accounts.insert(account.id.clone(), account);
        Ok(body)
    })
}

async fn get_account(
    State(state): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let st = lock(&state);
    if let Err(e) = wire::authenticate(&st, &headers) {
        return e.into_response();
    }
    match st.accounts.get(&id) {
        Some(a) => wire::respond(StatusCode::OK, account_json(a)),
        None => StripeErr::new(
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such account: '{id}'"),
            Some("account"),
        )
        .into_response(),
    }
}

fn absolute_url(p: &wire::Params, key: &str) -> Result<String, StripeErr> {
    let raw = p.require(key)?;
    match url::Url::parse(raw) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(raw.to_string()),
        _ => Err(StripeErr::request(
            "url_invalid",
            "Not a valid URL",
            Some(key),
        )),
    }
}

async fn create_account_link(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = lock(&state);
    let call = match wire::parse_post(&st, &headers, &body) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    idempotency::run(&mut st, &call, "POST", "/v1/account_links", |st, p| {
        p.only(&[
            &["account"],
            &["refresh_url"],
            &["return_url"],
            &["type"],
            &["collect"],
            &["collection_options", "fields"],
            &["collection_options", "future_requirements"],
            &["expand", "*"],
        ])?;
        let account = p.require("account")?.to_string();
        let link_type = p.require("type")?.to_string();
        if !matches!(link_type.as_str(), "account_onboarding" | "account_update") {
            return Err(StripeErr::request(
                "parameter_invalid_string",
                "Invalid type: must be one of account_onboarding or account_update",
                Some("type"),
            )
            .into());
        }
        let refresh_url = absolute_url(p, "refresh_url")?;
        let return_url = absolute_url(p, "return_url")?;
        if !st.accounts.contains_key(&account) {
            return Err(StripeErr::request(
                "resource_missing",
                format!("No such account: '{account}'"),
                Some("account"),
            )
            .into());
        }
        let now = st.now();
        let link = SimLink {
            id: new_id("link"),
            account,
            refresh_url,
            return_url,
            link_type,
            created: now,
            expires_at: now + LINK_TTL_SECS,
            visited: false,
        };
        let body = json!({
            "object": "account_link", "created": link.created, "expires_at": link.expires_at,
            "url": format!("{}/_sim/onboard/{}", st.url, link.id),
        });
        st.links.insert(link.id.clone(), link);
        Ok(body)
    })
}

/// Three lower-case letters; Stripe accepts any case and stores lower case.
fn currency(p: &wire::Params) -> Result<String, StripeErr> {
    let raw = p.require("currency")?;
    if raw.len() == 3 && raw.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(StripeErr::request(
            "parameter_invalid_string",
            format!(
                "Invalid currency: {}. Stripe currently supports these currencies: usd, eur, gbp, jpy, …",
                raw.to_ascii_lowercase()
            ),
            Some("currency"),
        ))
    }
}

/// `GET /v1/transfers?transfer_group=&destination=&limit=`: newest first, as Stripe lists.
async fn list_transfers(
    State(state): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let st = lock(&state);
    if let Err(e) = wire::authenticate(&st, &headers) {
        return e.into_response();
    }
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 10,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => {
            return StripeErr::request(
                "parameter_invalid_integer",
                "Invalid integer: limit must be between 1 and 100".to_string(),
                Some("limit"),
            )
            .into_response();
        }
    };
    let matching: Vec<&SimTransfer> = st
        .transfers
        .iter()
        .rev()
        .filter(|t| {
            q.get("transfer_group")
                .is_none_or(|g| t.transfer_group.as_deref() == Some(g.as_str()))
                && q.get("destination").is_none_or(|d| &t.destination == d)
        })
        .collect();
    let data: Vec<Value> = matching
        .iter()
        .take(limit)
        .map(|t| transfer_json(t))
        .collect();
    wire::respond(
        StatusCode::OK,
        json!({"object": "list", "data": data, "has_more": matching.len() > limit,
               "url": "/v1/transfers"}),
    )
}

async fn create_transfer(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let mut st = lock(&state);
    let call = match wire::parse_post(&st, &headers, &body) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let idempotency_key = call.idempotency_key.clone();
    idempotency::run(
        &mut st,
        &call,
        "POST",
        "/v1/transfers",
        |st: &mut SimState, p| {
            p.only(&[
                &["amount"],
                &["currency"],
                &["destination"],
                &["transfer_group"],
                &["description"],
                &["metadata", "*"],
                &["source_transaction"],
                &["source_type"],
                &["expand", "*"],
            ])?;
            let raw_amount = p.require("amount")?;
            let amount: i64 = raw_amount.parse().map_err(|_| {
                StripeErr::request(
                    "parameter_invalid_integer",
                    format!("Invalid integer: {raw_amount}"),
                    Some("amount"),
                )
            })?;
            if amount < 1 {
                return Err(StripeErr::request(
                    "amount_too_small",
                    "This value must be greater than or equal to 1.",
                    Some("amount"),
                )
                .into());
            }
            let currency = currency(p)?;
            let destination = p.require("destination")?.to_string();
            let metadata = p.metadata()?;
            let Some(account) = st.accounts.get(&destination) else {
                return Err(Refusal::Failed(StripeErr::request(
                    "resource_missing",
                    format!("No such destination: '{destination}'"),
                    Some("destination"),
                )));
            };
            if account.capabilities.get("transfers").map(String::as_str) != Some("active") {
                return Err(Refusal::Failed(StripeErr::request(
                    "insufficient_capabilities_for_transfer",
                    "Your destination account needs to have at least one of the following capabilities enabled: transfers, crypto_transfers, legacy_payments",
                    Some("destination"),
                )));
            }
            let available = st.balances.get(&currency).copied().unwrap_or(0);
            if available < amount {
                return Err(Refusal::Failed(StripeErr::request(
                    "balance_insufficient",
                    "You have insufficient available funds in your Stripe account. Try adding funds directly to your available balance by creating Charges using the 4000000000000077 test card. See: https://stripe.com/docs/testing#available-balance",
                    None,
                )));
            }
            st.balances.insert(currency.clone(), available - amount);
            let transfer = SimTransfer {
                id: new_id("tr"),
                amount,
                currency,
                destination,
                transfer_group: p.get("transfer_group").map(str::to_string),
                description: p.get("description").map(str::to_string),
                metadata,
                created: st.now(),
                idempotency_key,
            };
            let body = transfer_json(&transfer);
            st.transfers.push(transfer);
            Ok(body)
        },
    )
}
