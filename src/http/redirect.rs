//! `GET /r/:linkKey`: the click redirect. It resolves the link from the cache and hands the click to the buffer: no
//! database round trip on the hot path.

use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, LOCATION, REFERER, SET_COOKIE, USER_AGENT};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db::clicks::Click;
use crate::domain::ids::ClickId;
use crate::error::{ApiError, ApiResult};
use crate::http::json::ApiPath;
use crate::http::rate_limit::ClientIp;
use crate::service::links;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(redirect))
}

const MAX_HEADER: usize = 512;

fn header(headers: &HeaderMap, name: axum::http::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| storable(v, MAX_HEADER))
}

/// Text as we record it: at most `max` characters, without NUL (PostgreSQL cannot store it,
/// and it means nothing in a header or a query value).
pub(super) fn storable(v: &str, max: usize) -> String {
    v.chars().filter(|c| *c != '\0').take(max).collect()
}

/// Salted, keyed hash of the visitor's IP: stable enough to spot duplicates, useless to
/// recover the address.
pub(crate) fn ip_hash(salt: &[u8], ip: std::net::IpAddr) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(salt).expect("any key length");
    mac.update(ip.to_string().as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// `utm_*` from the redirect's own query string.
fn utm(query: Option<&str>) -> [Option<String>; 5] {
    let mut out: [Option<String>; 5] = Default::default();
    let Some(q) = query else { return out };
    for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
        let slot = match k.as_ref() {
            "utm_source" => 0,
            "utm_medium" => 1,
            "utm_campaign" => 2,
            "utm_term" => 3,
            "utm_content" => 4,
            _ => continue,
        };
        out[slot] = Some(storable(&v, MAX_HEADER));
    }
    out
}

/// Follow a share link: 302 to the destination with `op_click=<clickId>`, and the `op_click`
/// cookie. Unknown key: a 404 page. A revoked partner's link still redirects (the click is
/// flagged and never earns).
#[utoipa::path(get, path = "/r/{link_key}", tag = "links",
    params(("link_key" = String, Path)),
    responses((status = 302, description = "To the destination, with `op_click`"),
        (status = 404, description = "HTML page: no such link", content_type = "text/html")))]
async fn redirect(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
    RawQuery(query): RawQuery,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(link) = links::resolve(&state, &key).await? else {
        metrics::counter!(crate::instruments::REDIRECTS, "outcome" => "unknown_link").increment(1);
        return Ok((StatusCode::NOT_FOUND, Html(NOT_FOUND_PAGE)).into_response());
    };
    let click_id = ClickId::generate();
    let target = &link.target;
    let location = link.location(click_id.as_str());
    let cookie = format!(
        "op_click={click_id}; Path=/; Max-Age={}; SameSite=Lax",
        target.attribution_window_days * 86_400
    );
    // Group commit: the answer waits until the click is durable, so no click id is handed out
    // that a crash could lose. If the database cannot take it in time, the visitor is still
    // sent on, without a click id.
    let committed = state
        .clicks
        .record(Click {
            id: click_id.into_string(),
            link_id: target.link_id.to_string(),
            partner_id: target.partner_id.to_string(),
            program_id: target.program_id.to_string(),
            ts: state.clock.now().millis(),
            ip_hash: Some(ip_hash(&state.ip_salt[..], ip)),
            user_agent: header(&headers, USER_AGENT),
            referer: header(&headers, REFERER),
            landing_url: Some(target.destination_url.clone()),
            utm: utm(query.as_deref()),
            revoked: target.partner_revoked,
            source: "redirect",
            fraud_flag: None,
            country: None,
        })
        .await;
    let outcome = if committed {
        "redirected"
    } else {
        "redirected_without_click"
    };
    metrics::counter!(crate::instruments::REDIRECTS, "outcome" => outcome).increment(1);
    let mut response = StatusCode::FOUND.into_response();
    let h = response.headers_mut();
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if committed {
        h.insert(
            LOCATION,
            HeaderValue::from_str(&location).map_err(ApiError::internal)?,
        );
        h.insert(
            SET_COOKIE,
            HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
        );
    } else {
        tracing::warn!("click not committed in time; redirecting without a click id");
        h.insert(
            LOCATION,
            HeaderValue::from_str(&target.destination_url).map_err(ApiError::internal)?,
        );
    }
    Ok(response)
}

const NOT_FOUND_PAGE: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Link not found</title></head>\
<body style=\"font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem\">\
<h1>Link not found</h1><p>This link does not exist or is mistyped.</p></body></html>";
