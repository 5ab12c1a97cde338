//! The partner portal (`/portal`): a page shell and its script and styles compiled into the
//! binary (no CDN), under the console's strict policy. The partner signs in by magic link
//! (`op_session` cookie); every change the script makes carries the session's CSRF token.
//! The script reads the JSON API; share-link QR codes are SVG drawn here.

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use qrcode::QrCode;
use qrcode::render::svg;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::brand::with_brand;
use crate::http::json::ApiPath;
use crate::state::AppState;

/// The portal's pages; each is the same shell, the script shows the one its address names.
pub const PAGES: [&str; 7] = [
    "home",
    "links",
    "programs",
    "commissions",
    "payouts",
    "network",
    "profile",
];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(portal_home))
        .routes(routes!(portal_page))
        .routes(routes!(portal_js))
        .routes(routes!(portal_css))
        .routes(routes!(link_qr))
}

const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

/// The shell, with the brand's name in its header.
async fn shell(state: &AppState) -> Response {
    (
        [
            (CACHE_CONTROL, "no-store"),
            (CONTENT_SECURITY_POLICY, POLICY),
        ],
        Html(with_brand(state, include_str!("portal/portal.html")).await),
    )
        .into_response()
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(CONTENT_TYPE, content_type), (CACHE_CONTROL, "no-cache")],
        body,
    )
        .into_response()
}

/// The portal's home page (signed out: the sign-in form).
#[utoipa::path(get, path = "/portal", tag = "portal",
    responses((status = 200, description = "HTML page", content_type = "text/html")))]
async fn portal_home(State(state): State<AppState>) -> Response {
    shell(&state).await
}

/// One portal page: `links`, `programs`, `commissions`, `payouts`, `network` or `profile`.
#[utoipa::path(get, path = "/portal/{page}", tag = "portal",
    params(("page" = String, Path, description = "The page's name")),
    responses((status = 200, description = "HTML page", content_type = "text/html"),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn portal_page(
    State(state): State<AppState>,
    ApiPath(page): ApiPath<String>,
) -> ApiResult<Response> {
    if PAGES.contains(&page.as_str()) {
        Ok(shell(&state).await)
    } else {
        Err(ApiError::not_found("No such portal page."))
    }
}

/// The portal's script.
#[utoipa::path(get, path = "/portal/assets/portal.js", tag = "portal",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
async fn portal_js() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("portal/portal.js"),
    )
}

/// The portal's styles (on top of the console's).
#[utoipa::path(get, path = "/portal/assets/portal.css", tag = "portal",
    responses((status = 200, description = "CSS", content_type = "text/css")))]
async fn portal_css() -> Response {
    asset("text/css; charset=utf-8", include_str!("portal/portal.css"))
}

/// A QR code (SVG) of the share URL `<public url>/r/<key>`. Share URLs are public, so this
/// needs no credential; only a well-formed key is drawn.
#[utoipa::path(get, path = "/portal/qr/{key}", tag = "portal",
    params(("key" = String, Path, description = "The link key")),
    responses((status = 200, description = "SVG image", content_type = "image/svg+xml"),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn link_qr(
    State(state): State<AppState>,
    ApiPath(key): ApiPath<String>,
) -> ApiResult<Response> {
    let well_formed = (3..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(ApiError::not_found("No such link."));
    }
    let url = format!("{}/r/{key}", state.config.public_url);
    let code = QrCode::new(url.as_bytes())
        .map_err(|e| ApiError::internal(format_args!("QR code: {e}")))?;
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build();
    Ok((
        [
            (CONTENT_TYPE, "image/svg+xml"),
            (CACHE_CONTROL, "public, max-age=3600"),
            (
                CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'",
            ),
        ],
        image,
    )
        .into_response())
}
