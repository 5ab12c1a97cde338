//! Stripe's idempotency keys: the first answer to a key (per secret key) is saved and replayed
//! for the same endpoint and parameters (`Idempotent-Replayed: true`); the key with another
//! endpoint or other parameters is a 400 `idempotency_error`. A request refused by validation
//! saves nothing; one whose operation ran saves its answer, success or failure. Keys expire
//! after 24 hours of sim time.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::wire::{Call, Params, StripeErr, respond};
use super::{IDEMPOTENCY_TTL_SECS, SavedAnswer, SimState};

/// Why a call's body did not run to an answer: a validation refusal saves nothing under the
/// idempotency key; a failure of the operation itself is saved and replayed like a success.
pub enum Refusal {
    Invalid(StripeErr),
    Failed(StripeErr),
}

impl From<StripeErr> for Refusal {
    fn from(e: StripeErr) -> Self {
        Refusal::Invalid(e)
    }
}

/// Runs `op` under Stripe's idempotency rules and answers.
pub fn run(
    st: &mut SimState,
    call: &Call,
    method: &str,
    path: &str,
    op: impl FnOnce(&mut SimState, &Params) -> Result<Value, Refusal>,
) -> Response {
    let now = st.now();
    let slot = call
        .idempotency_key
        .as_ref()
        .map(|k| (call.secret_key.clone(), k.clone()));
    if let Some(slot) = &slot {
        if let Some(saved) = st
            .idempotency
            .get(slot)
            .filter(|s| now - s.saved_at <= IDEMPOTENCY_TTL_SECS)
        {
            let key = &slot.1;
            if saved.method != method || saved.path != path {
                return StripeErr::new(StatusCode::BAD_REQUEST, "idempotency_error", None, format!(
                    "Keys for idempotent requests can only be used for the same endpoint they were first used for ('{path}' vs '{}'). Try using a key other than '{key}' if you meant to execute a different request.",
                    saved.path
                ), None).into_response();
            }
            if saved.params != call.params.canonical() {
                return StripeErr::new(StatusCode::BAD_REQUEST, "idempotency_error", None, format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                ), None).into_response();
            }
            let status = StatusCode::from_u16(saved.status).unwrap_or(StatusCode::OK);
            let mut r = respond(status, saved.body.clone());
            r.headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            return r;
        }
    }
    let (status, body) = match op(st, &call.params) {
        Ok(body) => (StatusCode::OK, body),
        Err(Refusal::Invalid(e)) => return e.into_response(),
        Err(Refusal::Failed(e)) => (e.status, e.body()),
    };
    if let Some(slot) = slot {
        st.idempotency.insert(
            slot,
            SavedAnswer {
                method: method.to_string(),
                path: path.to_string(),
                params: call.params.canonical(),
                status: status.as_u16(),
                body: body.clone(),
                saved_at: now,
            },
        );
    }
    let mut r = respond(status, body);
    if let Some(key) = call
        .idempotency_key
        .as_deref()
        .and_then(|k| HeaderValue::from_str(k).ok())
    {
        r.headers_mut().insert("idempotency-key", key);
    }
    r
}
