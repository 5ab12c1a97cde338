//! The partner-acting side of the simulator: a brand calls with its vendor token and
//! `x-act-as-vendor-partner: <its partner id>`; the creator is found through the affiliation.
//! Every acting call is recorded (`SimState.acting`) so tests can see the header arrive.

use std::sync::{Arc, Mutex};

use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use super::SimState;
use super::handlers::{error, lock, vendor_id};

type St = State<Arc<Mutex<SimState>>>;

pub fn router() -> Router<Arc<Mutex<SimState>>> {
    Router::new()
        .route("/offerings", get(list_offerings))
        .route("/offerings/{id}", get(get_offering))
        .route("/offerings/{id}/apply", post(apply))
        .route("/vendors/{id}", get(get_vendor))
        .route("/creators/me", get(get_profile).patch(update_profile))
        .route("/creators/me/affiliations", get(affiliations))
        .route("/creators/me/affiliations/{id}/earnings", get(earnings))
        .route("/creators/me/requests", get(requests))
        .route("/creators/me/requests/{id}/cancel", post(cancel))
}

/// (vendor id, creator email) of the acting call, after recording it; or the error answer.
fn acting(
    st: &mut SimState,
    headers: &HeaderMap,
    method: &Method,
    uri: &OriginalUri,
) -> Result<(String, String), (StatusCode, &'static str)> {
    let Some(vendor) = vendor_id(st, headers) else {
        return Err((StatusCode::UNAUTHORIZED, "invalid_token"));
    };
    let Some(partner) = headers
        .get("x-act-as-vendor-partner")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_string)
    else {
        return Err((StatusCode::BAD_REQUEST, "act_as_required"));
    };
    st.acting.push(json!({
        "call": format!("{method} {}", uri.0.path()),
        "vendorId": vendor,
        "partner": partner,
    }));
    let creator = st.creators.values().find(|c| {
        c.affiliations
            .iter()
            .any(|a| a["vendorId"] == vendor.as_str() && a["vendorPartnerId"] == partner.as_str())
    });
    match creator {
        Some(c) => Ok((vendor, c.email.clone())),
        None => Err((StatusCode::NOT_FOUND, "creator_not_found")),
    }
}

macro_rules! act {
    ($st:expr, $headers:expr, $method:expr, $uri:expr) => {
        match acting(&mut $st, &$headers, &$method, &$uri) {
            Ok(found) => found,
            Err((status, code)) => return error(status, code),
        }
    };
}

/// Every vendor's published offerings, each with its vendor.
fn all_offerings(st: &SimState) -> Vec<Value> {
    let mut all: Vec<Value> = st
        .vendors
        .values()
        .flat_map(|v| {
            v.offerings.iter().map(move |o| {
                let mut o = o.clone();
                o["vendorId"] = json!(v.id);
                o["vendorName"] = json!(v.display_name);
                o
            })
        })
        .filter(|o| o["published"] != false)
        .collect();
    all.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    all
}

async fn list_offerings(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    RawQuery(q): RawQuery,
) -> Response {
    let mut st = lock(&state);
    act!(st, headers, method, uri);
    let params: Vec<(String, String)> =
        url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let find = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut offerings = all_offerings(&st);
    if let Some(q) = find("q").map(|q| q.to_lowercase()) {
        offerings.retain(|o| {
            let text = format!(
                "{} {}",
                o["title"].as_str().unwrap_or_default(),
                o["description"].as_str().unwrap_or_default()
            );
            text.to_lowercase().contains(&q)
        });
    }
    if find("sort").as_deref() == Some("title") {
        offerings.sort_by(|a, b| a["title"].as_str().cmp(&b["title"].as_str()));
    }
    Json(json!({ "offerings": offerings })).into_response()
}

async fn get_offering(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let mut st = lock(&state);
    act!(st, headers, method, uri);
    match all_offerings(&st)
        .into_iter()
        .find(|o| o["id"] == id.as_str())
    {
        Some(o) => Json(o).into_response(),
        None => error(StatusCode::NOT_FOUND, "offering_not_found"),
    }
}

async fn get_vendor(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let mut st = lock(&state);
    act!(st, headers, method, uri);
    match st.vendors.get(&id) {
        Some(v) => Json(json!({
            "id": v.id, "displayName": v.display_name, "instanceUrl": v.instance_url,
            "offerings": all_offerings(&st).into_iter().filter(|o| o["vendorId"] == id.as_str()).collect::<Vec<_>>(),
        }))
        .into_response(),
        None => error(StatusCode::NOT_FOUND, "vendor_not_found"),
    }
}

async fn apply(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    Path(id): Path<String>,
    body: Option<Json<Value>>,
) -> Response {
    let mut st = lock(&state);
    let (_, email) = act!(st, headers, method, uri);
    let body = body.map(|b| b.0).unwrap_or(Value::Null);
    let Some(offering) = all_offerings(&st)
        .into_iter()
        .find(|o| o["id"] == id.as_str())
    else {
        return error(StatusCode::NOT_FOUND, "offering_not_found");
    };
    let creator = st.creators[&email].clone();
    let duplicate = st.requests.iter().any(|r| {
        r["offeringId"] == id.as_str()
            && r["creator"]["id"] == creator.id.as_str()
            && r["status"] == "pending"
    });
    if duplicate {
        return error(StatusCode::CONFLICT, "already_applied");
    }
    let request = json!({
        "id": format!("req_{}", ulid::Ulid::new()), "vendorId": offering["vendorId"], "offeringId": id,
        "vendorProgramId": offering["vendorProgramId"], "status": "pending", "message": body["message"],
        "preferredSlug": body["preferredSlug"],
        "creator": { "id": creator.id, "email": creator.email, "name": creator.name,
            "handle": format!("@{}", super::marketplace::handle(&creator.email)) },
        "createdAt": chrono::Utc::now().to_rfc3339(),
    });
    st.requests.push(request.clone());
    (StatusCode::CREATED, Json(request)).into_response()
}

fn profile_of(st: &SimState, email: &str) -> Value {
    let c = &st.creators[email];
    let mut p = json!({
        "id": c.id, "email": c.email, "name": c.name,
        "handle": super::marketplace::handle(&c.email), "avatarUrl": null, "bio": null,
    });
    if let Some(Value::Object(changes)) = st.profiles.get(&c.id) {
        for (k, v) in changes {
            p[k] = v.clone();
        }
    }
    p
}

async fn get_profile(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
) -> Response {
    let mut st = lock(&state);
    let (_, email) = act!(st, headers, method, uri);
    Json(profile_of(&st, &email)).into_response()
}

async fn update_profile(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    Json(body): Json<Value>,
) -> Response {
    let mut st = lock(&state);
    let (_, email) = act!(st, headers, method, uri);
    let Value::Object(changes) = body else {
        return error(StatusCode::BAD_REQUEST, "invalid_profile");
    };
    let id = st.creators[&email].id.clone();
    let entry = st.profiles.entry(id).or_insert_with(|| json!({}));
    for (k, v) in changes {
        if matches!(k.as_str(), "name" | "handle" | "avatarUrl" | "bio") {
            entry[k] = v;
        }
    }
    Json(profile_of(&st, &email)).into_response()
}

async fn affiliations(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
) -> Response {
    let mut st = lock(&state);
    let (_, email) = act!(st, headers, method, uri);
    let list: Vec<Value> = st.creators[&email]
        .affiliations
        .iter()
        .map(|a| {
            let mut a = a.clone();
            a["id"] = json!(format!(
                "aff_{}",
                a["vendorId"].as_str().unwrap_or_default()
            ));
            a
        })
        .collect();
    Json(json!({ "affiliations": list })).into_response()
}

async fn earnings(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let mut st = lock(&state);
    let (_, email) = act!(st, headers, method, uri);
    let known = st.creators[&email]
        .affiliations
        .iter()
        .any(|a| format!("aff_{}", a["vendorId"].as_str().unwrap_or_default()) == id);
    if !known {
        return error(StatusCode::NOT_FOUND, "affiliation_not_found");
    }
    Json(json!({ "affiliationId": id, "earnings": [], "totals": {} })).into_response()
}

async fn requests(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
) -> Response {
    let mut st = lock(&state);
    let (_, email) = act!(st, headers, method, uri);
    let creator = st.creators[&email].id.clone();
    let mine: Vec<&Value> = st
        .requests
        .iter()
        .filter(|r| r["creator"]["id"] == creator.as_str())
        .collect();
    Json(json!({ "requests": mine })).into_response()
}

async fn cancel(
    State(state): St,
    headers: HeaderMap,
    method: Method,
    uri: OriginalUri,
    Path(id): Path<String>,
) -> Response {
    let mut st = lock(&state);
    let (_, email) = act!(st, headers, method, uri);
    let creator = st.creators[&email].id.clone();
    let Some(r) = st
        .requests
        .iter_mut()
        .find(|r| r["id"] == id.as_str() && r["creator"]["id"] == creator.as_str())
    else {
        return error(StatusCode::NOT_FOUND, "request_not_found");
    };
    if r["status"] != "pending" {
        return error(StatusCode::CONFLICT, "request_not_pending");
    }
    r["status"] = json!("cancelled");
    Json(r.clone()).into_response()
}
