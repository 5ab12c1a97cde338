//! The marketplace side of the simulator: creators apply to a vendor's offering; the vendor
//! approves (the Network then federates the creator into the brand over real HTTP with the
//! federation key, exactly as the protocol's §2 says) or rejects; discovery; invitations.

use std::sync::{Arc, Mutex};

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::SimState;
use super::handlers::{error, lock, vendor_id};

type St = State<Arc<Mutex<SimState>>>;

pub fn router() -> Router<Arc<Mutex<SimState>>> {
    Router::new()
        .route("/vendors/me/requests", get(list_requests))
        .route("/vendors/me/requests/{id}/approve", post(approve))
        .route("/vendors/me/requests/{id}/reject", post(reject))
        .route("/vendors/me/discover/creators", get(discover))
        .route("/vendors/me/offerings/{id}/invitations", post(invite))
        .route("/_sim/requests", post(apply))
}

pub(super) fn handle(email: &str) -> String {
    email
        .split('@')
        .next()
        .unwrap_or("creator")
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

/// A creator applies to a vendor's offering (`{vendorId, offeringId?, email, name}`).
async fn apply(State(state): St, Json(body): Json<Value>) -> Response {
    let (Some(vendor), Some(email), Some(name)) = (
        body["vendorId"].as_str(),
        body["email"].as_str(),
        body["name"].as_str(),
    ) else {
        return error(StatusCode::BAD_REQUEST, "vendorId_email_name_required");
    };
    let sim = super::NetworkSim {
        url: String::new(),
        state,
    };
    match sim.apply(vendor, body["offeringId"].as_str(), email, name) {
        Ok(request) => (StatusCode::CREATED, Json(request)).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

async fn list_requests(State(state): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let st = lock(&state);
    let Some(vendor) = vendor_id(&st, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    let status = q.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "status")
            .map(|(_, v)| v.into_owned())
    });
    let requests: Vec<&Value> = st
        .requests
        .iter()
        .filter(|r| r["vendorId"] == vendor.as_str())
        .filter(|r| status.as_deref().is_none_or(|s| r["status"] == s))
        .collect();
    Json(json!({ "requests": requests })).into_response()
}

async fn reject(
    State(state): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let mut st = lock(&state);
    let Some(vendor) = vendor_id(&st, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    let Some(request) = st
        .requests
        .iter_mut()
        .find(|r| r["id"] == id.as_str() && r["vendorId"] == vendor.as_str())
    else {
        return error(StatusCode::NOT_FOUND, "request_not_found");
    };
    if request["status"] != "pending" {
        return error(StatusCode::CONFLICT, "request_already_decided");
    }
    request["status"] = json!("rejected");
    request["decisionNote"] = body
        .map(|b| b.0["decisionNote"].clone())
        .unwrap_or(Value::Null);
    Json(request.clone()).into_response()
}

/// Approving federates the creator into the brand: `POST /partners`, then its link.
async fn approve(
    State(state): St,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let body = body.map(|b| b.0).unwrap_or(Value::Null);
    // Read what we need, then let go of the lock: the brand is called over HTTP.
    let (request, vendor, offering) = {
        let st = lock(&state);
        let Some(vendor_id) = vendor_id(&st, &headers) else {
            return error(StatusCode::UNAUTHORIZED, "invalid_token");
        };
        let Some(request) = st
            .requests
            .iter()
            .find(|r| r["id"] == id.as_str() && r["vendorId"] == vendor_id.as_str())
            .cloned()
        else {
            return error(StatusCode::NOT_FOUND, "request_not_found");
        };
        if request["status"] != "pending" {
            return error(StatusCode::CONFLICT, "request_already_decided");
        }
        let vendor = st.vendors[&vendor_id].clone();
        let offering = vendor
            .offerings
            .iter()
            .find(|o| o["id"] == request["offeringId"])
            .cloned()
            .unwrap_or(Value::Null);
        (request, vendor, offering)
    };
    let program = body["programId"]
        .as_str()
        .or(request["vendorProgramId"].as_str())
        .unwrap_or("cmp_default")
        .to_string();
    let creator = &request["creator"];
    let http = reqwest::Client::new();
    let base = vendor.instance_url.trim_end_matches('/').to_string();
    let terms = &offering["terms"];
    let create = json!({
        "email": creator["email"], "name": creator["name"], "sendInvite": false, "programIds": [program],
        "campaignGrantSource": "offering",
        // The current Network sends the offering's rule set and the legacy mirror beside it.
        "commissionSnapshot": {
            "commissionRules": terms["commissionRules"].clone(),
            "commissionType": terms["commissionType"].as_str().unwrap_or("percent"),
            "commissionValue": terms["commissionValue"].clone(),
            "recurring": terms["recurring"].as_bool().unwrap_or(true),
            "holdbackDays": match &terms["payoutHoldbackDays"] {
                Value::Null => terms["holdbackDays"].clone(),
                days => days.clone(),
            },
        },
        "metadata": { "source": "openpartner_network", "networkCreatorId": creator["id"], "creatorHandle": creator["handle"] },
    });
    let federation_failed = |detail: String| {
        (
            StatusCode::BAD_GATEWAY,
            Json(json!({"error": "federation_failed", "detail": detail})),
        )
            .into_response()
    };
    let res = match http
        .post(format!("{base}/partners"))
        .bearer_auth(&vendor.scoped_key)
        .json(&create)
        .send()
        .await
    {
        Ok(r) => r,
        Err(e) => return federation_failed(format!("POST /partners: {e}")),
    };
    let status = res.status().as_u16();
    let answer: Value = res.json().await.unwrap_or(Value::Null);
    // An existing partner (409 email_taken) is linked as it is: the brand names it.
    let partner_id = match (status, answer["id"].as_str(), answer["partnerId"].as_str()) {
        (201, Some(id), _) => id.to_string(),
        (409, _, Some(id)) => id.to_string(),
        _ => return federation_failed(format!("POST /partners answered {status}: {answer}")),
    };
    let base_key = handle(creator["email"].as_str().unwrap_or("creator"));
    let mut link = None;
    for attempt in 1..=5 {
        let key = if attempt == 1 {
            base_key.clone()
        } else {
            format!("{base_key}-{attempt}")
        };
        let res = http
            .post(format!("{base}/partners/{partner_id}/links"))
            .bearer_auth(&vendor.scoped_key)
            .json(&json!({ "linkKey": key, "programId": program }))
            .send()
            .await;
        match res {
            Ok(r) if r.status() == 201 => {
                link = r.json::<Value>().await.ok();
                break;
            }
            Ok(r) if r.status() == 409 => continue,
            Ok(r) => {
                return federation_failed(format!(
                    "POST /partners/{partner_id}/links answered {}",
                    r.status()
                ));
            }
            Err(e) => return federation_failed(format!("POST /partners/{partner_id}/links: {e}")),
        }
    }
    let Some(link) = link else {
        return federation_failed("no free link key".into());
    };
    let mut st = lock(&state);
    let Some(stored) = st.requests.iter_mut().find(|r| r["id"] == id.as_str()) else {
        return error(StatusCode::NOT_FOUND, "request_not_found");
    };
    stored["status"] = json!("approved");
    stored["decisionNote"] = body["decisionNote"].clone();
    stored["partnerId"] = json!(partner_id);
    stored["linkKey"] = link["linkKey"].clone();
    stored["shareUrl"] = link["shareUrl"].clone();
    Json(stored.clone()).into_response()
}

/// Discovery: the creators on the Network, with the query it received echoed back.
async fn discover(State(state): St, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let st = lock(&state);
    if vendor_id(&st, &headers).is_none() {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    }
    let params: Vec<(String, String)> = q
        .as_deref()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let needle = params
        .iter()
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.to_lowercase());
    let creators: Vec<Value> = st
        .creators
        .values()
        .filter(|c| needle.as_deref().is_none_or(|n| c.name.to_lowercase().contains(n) || c.email.contains(n)))
        .map(|c| json!({"id": c.id, "name": c.name, "handle": format!("@{}", handle(&c.email)), "vendors": c.affiliations.len()}))
        .collect();
    Json(json!({ "creators": creators, "query": params.into_iter().map(|(k, v)| (k, Value::String(v))).collect::<serde_json::Map<String, Value>>() })).into_response()
}

/// Invites a creator to an offering; idempotent per creator (201 the first time, then 200).
async fn invite(
    State(state): St,
    headers: HeaderMap,
    Path(offering): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut st = lock(&state);
    let Some(vendor) = vendor_id(&st, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "invalid_token");
    };
    if !st.vendors[&vendor]
        .offerings
        .iter()
        .any(|o| o["id"] == offering.as_str())
    {
        return error(StatusCode::NOT_FOUND, "offering_not_found");
    }
    let Some(creator) = body["creatorId"].as_str() else {
        return error(StatusCode::BAD_REQUEST, "creatorId_required");
    };
    if !st.creators.values().any(|c| c.id == creator) {
        return error(StatusCode::NOT_FOUND, "creator_not_found");
    }
    if let Some(existing) = st
        .invitations
        .iter()
        .find(|i| i["offeringId"] == offering.as_str() && i["creatorId"] == creator)
    {
        return Json(existing.clone()).into_response();
    }
    let invitation = json!({
        "id": format!("inv_{}", ulid::Ulid::new()), "offeringId": offering, "creatorId": creator,
        "message": body["message"], "status": "sent", "createdAt": chrono::Utc::now().to_rfc3339(),
    });
    st.invitations.push(invitation.clone());
    (StatusCode::CREATED, Json(invitation)).into_response()
}
