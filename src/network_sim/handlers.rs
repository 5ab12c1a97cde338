//! The simulator's endpoints: the protocol's Network side, and `/_sim` controls.

use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::{Creator, Fault, SimState, Vendor, Verification};

type St = State<Arc<Mutex<SimState>>>;

pub fn router() -> Router<Arc<Mutex<SimState>>> {
    Router::new()
        .route("/vendors/signup", post(signup))
        .route("/vendors/verify-and-issue-token", post(verify))
        .route("/vendors/me", get(me))
        .route("/vendors/me/heartbeat", post(heartbeat))
        .route("/vendors/me/report-payouts", post(report_payouts))
        .route(
            "/vendors/me/offerings",
            get(list_offerings).post(create_offering),
        )
        .route("/vendors/me/offerings/{id}", patch(update_offering))
        .route("/partners/upsert", post(upsert))
        .route("/_sim/state", get(sim_state))
        .route("/_sim/verifications", get(sim_verifications))
        .route("/_sim/vendors/{id}/status", post(sim_status))
        .route("/_sim/faults", post(sim_fault))
        .route("/_sim/creators", post(sim_creator))
}

pub(super) fn lock(state: &Mutex<SimState>) -> MutexGuard<'_, SimState> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

pub(super) fn error(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_string())
}

/// The vendor whose token is presented.
pub(super) fn vendor_id(st: &SimState, headers: &HeaderMap) -> Option<String> {
    let token = bearer(headers)?;
    st.vendors
        .values()
        .find(|v| v.token.as_deref() == Some(token.as_str()))
        .map(|v| v.id.clone())
}

fn invalid_token() -> Response {
    error(StatusCode::UNAUTHORIZED, "invalid_token")
}

fn str_field<'a>(body: &'a Value, key: &str) -> Option<&'a str> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

async fn signup(State(state): St, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let (Some(instance_url), Some(scoped_key), Some(callback)) = (
        str_field(&body, "instanceUrl"),
        str_field(&body, "scopedKey"),
        str_field(&body, "portalCallbackUrl"),
    ) else {
        return error(StatusCode::BAD_REQUEST, "invalid_signup");
    };
    let Some(email) = body.pointer("/contact/email").and_then(Value::as_str) else {
        return error(StatusCode::BAD_REQUEST, "contact_email_required");
    };
    // As the Network's schema: `name` is an optional string; `null` is refused.
    let contact_name = match body.pointer("/contact/name") {
        None => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return error(StatusCode::BAD_REQUEST, "invalid_contact_name"),
    };
    let mut st = lock(&state);
    let hosted = match (bearer(&headers), &st.admin_key) {
        (Some(given), Some(admin)) if &given == admin => true,
        (Some(_), _) => return error(StatusCode::UNAUTHORIZED, "invalid_admin_token"),
        (None, _) => false,
    };
    let id = format!("vnd_{}", ulid::Ulid::new());
    let display_name = str_field(&body, "displayName")
        .unwrap_or("Unnamed brand")
        .to_string();
    let token = hosted.then(|| format!("vt_{}", ulid::Ulid::new()));
    st.vendors.insert(
        id.clone(),
        Vendor {
            id: id.clone(),
            token: token.clone(),
            display_name: display_name.clone(),
            status: if hosted { "active" } else { "pending" }.into(),
            tier: str_field(&body, "tier").unwrap_or("self_hosted").into(),
            instance_url: instance_url.into(),
            scoped_key: scoped_key.into(),
            contact_email: email.into(),
            contact_name,
            portal_callback_url: callback.into(),
            heartbeats: Vec::new(),
            payout_reports: Vec::new(),
            offerings: Vec::new(),
        },
    );
    if let Some(token) = token {
        return Json(json!({"vendorId": id, "vendorToken": token, "status": "active", "displayName": display_name})).into_response();
    }
    let ntoken = format!("nt_{}", ulid::Ulid::new());
    let sep = if callback.contains('?') { '&' } else { '?' };
    let link = format!("{callback}{sep}ntoken={ntoken}");
    tracing::info!(vendor = %id, %email, %link, "network-sim: verification email");
    st.verifications.push(Verification {
        vendor_id: id.clone(),
        email: email.into(),
        token: ntoken,
        link,
    });
    Json(json!({"vendorId": id, "status": "pending", "emailSent": true})).into_response()
}

async fn verify(State(state): St, Json(body): Json<Value>) -> Response {
    let Some(token) = str_field(&body, "token") else {
        return error(StatusCode::BAD_REQUEST, "token_required");
    };
    let mut st = lock(&state);
    let Some(pos) = st.verifications.iter().position(|v| v.token == token) else {
        return error(StatusCode::BAD_REQUEST, "invalid_or_used_token");
    };
    let verification = st.verifications.remove(pos);
    let Some(vendor) = st.vendors.get_mut(&verification.vendor_id) else {
        return error(StatusCode::NOT_FOUND, "vendor_not_found");
    };
    let vendor_token = format!("vt_{}", ulid::Ulid::new());
    vendor.token = Some(vendor_token.clone());
    vendor.status = "active".into();
    Json(json!({
        "vendorId": vendor.id, "vendorToken": vendor_token, "displayName": vendor.display_name,
        "issuedAt": chrono::Utc::now().to_rfc3339(),
    }))
    .into_response()
}

async fn me(State(state): St, headers: HeaderMap) -> Response {
    let st = lock(&state);
    let id = match vendor_id(&st, &headers) {
        Some(id) => id,
        None => return invalid_token(),
    };
    let v = &st.vendors[&id];
    let last = v.heartbeats.last();
    Json(json!({
        "id": v.id, "displayName": v.display_name, "status": v.status, "tier": v.tier,
        "partnerCount": last.and_then(|h| h.get("partnerCount")).cloned().unwrap_or(json!(0)),
        "lastHeartbeatAt": last.and_then(|h| h.get("receivedAt")).cloned(),
        "logoUrl": last.and_then(|h| h.get("logoUrl")).cloned(),
        "offerings": v.offerings.len(),
    }))
    .into_response()
}

async fn heartbeat(State(state): St, headers: HeaderMap, Json(mut body): Json<Value>) -> Response {
    let mut st = lock(&state);
    let id = match vendor_id(&st, &headers) {
        Some(id) => id,
        None => return invalid_token(),
    };
    if body.get("partnerCount").and_then(Value::as_i64).is_none() || body.get("logoUrl").is_none() {
        return error(StatusCode::BAD_REQUEST, "invalid_heartbeat");
    }
    body["receivedAt"] = json!(chrono::Utc::now().to_rfc3339());
    st.vendors
        .get_mut(&id)
        .expect("vendor")
        .heartbeats
        .push(body);
    Json(json!({"ok": true})).into_response()
}

/// The metering report: `{amountUsd, sinceIso, untilIso}`; the Network dedups by the window.
async fn report_payouts(
    State(state): St,
    headers: HeaderMap,
    Json(mut body): Json<Value>,
) -> Response {
    let mut st = lock(&state);
    let id = match vendor_id(&st, &headers) {
        Some(id) => id,
        None => return invalid_token(),
    };
    let valid = body.get("amountUsd").is_some_and(Value::is_number)
        && body.get("sinceIso").is_some_and(Value::is_string)
        && body.get("untilIso").is_some_and(Value::is_string);
    if !valid {
        return error(StatusCode::BAD_REQUEST, "invalid_report");
    }
    body["receivedAt"] = json!(chrono::Utc::now().to_rfc3339());
    st.vendors
        .get_mut(&id)
        .expect("vendor")
        .payout_reports
        .push(body);
    Json(json!({"ok": true})).into_response()
}

async fn upsert(State(state): St, headers: HeaderMap, Json(body): Json<Value>) -> Response {
    let mut st = lock(&state);
    let id = match vendor_id(&st, &headers) {
        Some(id) => id,
        None => return invalid_token(),
    };
    let vendor = st.vendors[&id].clone();
    if vendor.status != "active" {
        return error(StatusCode::FORBIDDEN, &format!("vendor_{}", vendor.status));
    }
    let (Some(partner_id), Some(email), Some(name)) = (
        str_field(&body, "vendorPartnerId"),
        str_field(&body, "email"),
        str_field(&body, "name"),
    ) else {
        return error(StatusCode::BAD_REQUEST, "invalid_upsert");
    };
    let status = str_field(&body, "status").unwrap_or("active").to_string();
    if !matches!(status.as_str(), "pending" | "active" | "revoked") {
        return error(StatusCode::BAD_REQUEST, "invalid_status");
    }
    st.upserts.push(body.clone());
    let email = email.to_lowercase();
    let already = st.creators.contains_key(&email);
    let creator = st.creators.entry(email.clone()).or_insert_with(|| Creator {
        id: format!("nc_{}", ulid::Ulid::new()),
        email,
        name: name.to_string(),
        affiliations: Vec::new(),
    });
    let affiliation = json!({"vendorId": vendor.id, "vendorPartnerId": partner_id, "status": status, "displayName": vendor.display_name});
    match creator
        .affiliations
        .iter_mut()
        .find(|a| a["vendorId"] == vendor.id.as_str() && a["vendorPartnerId"] == partner_id)
    {
        Some(a) => *a = affiliation,
        None => creator.affiliations.push(affiliation),
    }
    Json(json!({"networkCreatorId": creator.id, "alreadyExisted": already, "affiliations": creator.affiliations}))
        .into_response()
}

async fn list_offerings(State(state): St, headers: HeaderMap) -> Response {
    let st = lock(&state);
    match vendor_id(&st, &headers) {
        Some(id) => Json(json!({"offerings": st.vendors[&id].offerings})).into_response(),
        None => invalid_token(),
    }
}

async fn create_offering(
    State(state): St,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let mut st = lock(&state);
    let id = match vendor_id(&st, &headers) {
        Some(id) => id,
        None => return invalid_token(),
    };
    if str_field(&body, "title").is_none() || str_field(&body, "vendorProgramId").is_none() {
        return error(StatusCode::BAD_REQUEST, "invalid_offering");
    }
    let mut offering = body;
    offering["id"] = json!(format!("off_{}", ulid::Ulid::new()));
    offering["vendorId"] = json!(id);
    st.vendors
        .get_mut(&id)
        .expect("vendor")
        .offerings
        .push(offering.clone());
    (StatusCode::CREATED, Json(offering)).into_response()
}

async fn update_offering(
    State(state): St,
    headers: HeaderMap,
    Path(offering_id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut st = lock(&state);
    let id = match vendor_id(&st, &headers) {
        Some(id) => id,
        None => return invalid_token(),
    };
    let vendor = st.vendors.get_mut(&id).expect("vendor");
    let Some(offering) = vendor
        .offerings
        .iter_mut()
        .find(|o| o["id"] == offering_id.as_str())
    else {
        return error(StatusCode::NOT_FOUND, "offering_not_found");
    };
    if let (Value::Object(target), Value::Object(changes)) = (offering, body) {
        for (k, v) in changes {
            if k != "id" {
                target.insert(k, v);
            }
        }
    }
    let updated = vendor
        .offerings
        .iter()
        .find(|o| o["id"] == offering_id.as_str())
        .cloned();
    Json(updated).into_response()
}

async fn sim_state(State(state): St) -> Json<Value> {
    Json(serde_json::to_value(&*lock(&state)).unwrap_or(Value::Null))
}

async fn sim_verifications(State(state): St) -> Json<Value> {
    Json(json!({"verifications": lock(&state).verifications}))
}

async fn sim_status(State(state): St, Path(id): Path<String>, Json(body): Json<Value>) -> Response {
    let Some(status) = str_field(&body, "status").map(str::to_string) else {
        return error(StatusCode::BAD_REQUEST, "status_required");
    };
    match lock(&state).vendors.get_mut(&id) {
        Some(v) => {
            v.status = status;
            Json(json!({"ok": true})).into_response()
        }
        None => error(StatusCode::NOT_FOUND, "vendor_not_found"),
    }
}

async fn sim_fault(State(state): St, Json(fault): Json<Fault>) -> Json<Value> {
    lock(&state).faults.push(fault);
    Json(json!({"ok": true}))
}

async fn sim_creator(State(state): St, Json(body): Json<Value>) -> Response {
    let (Some(email), Some(name)) = (str_field(&body, "email"), str_field(&body, "name")) else {
        return error(StatusCode::BAD_REQUEST, "email_and_name_required");
    };
    let sim = super::NetworkSim {
        url: String::new(),
        state: state.clone(),
    };
    sim.seed_creator(email, name);
    Json(json!({"ok": true})).into_response()
}
