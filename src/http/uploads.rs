//! The brand logo: uploaded raw (PNG, JPEG or WebP, ≤ 2 MB, checked by its magic bytes), kept in
//! the database so every replica serves it, served publicly so the marketplace can show it, and
//! announced with a background heartbeat.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::network::heartbeat;
use crate::state::AppState;
use crate::uploads::{MAX_LOGO, logo_url, sniff};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload_logo, get_logo))
        // Above the 1 MiB default, so a 2 MB logo fits and a larger one is our 413.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_LOGO + 1))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogoAnswer {
    /// Where the logo is served, with its version: `<public URL>/uploads/logo?v=<version>`.
    logo_url: String,
}

/// Upload the brand logo: the raw image as the body.
#[utoipa::path(post, path = "/uploads/logo", tag = "network", security(("bearer" = [])),
    request_body(description = "The raw image, as PNG, JPEG or WebP",
        content(("image/png"), ("image/jpeg"), ("image/webp"))),
    responses((status = 200, body = LogoAnswer),
        (status = 400, description = "`invalid_image`: the bytes are not the declared image type", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 413, description = "`payload_too_large` (over 2 MB)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`: only image/png, image/jpeg, image/webp", body = ErrorBody)))]
async fn upload_logo(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> ApiResult<Json<LogoAnswer>> {
    auth.require_admin()?;
    let declared = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    if !matches!(declared.as_str(), "image/png" | "image/jpeg" | "image/webp") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Upload the logo as image/png, image/jpeg or image/webp.",
        ));
    }
    let bytes = body.map_err(|_| crate::http::json::payload_too_large())?;
    if bytes.len() > MAX_LOGO {
        return Err(crate::http::json::payload_too_large());
    }
    if sniff(&bytes) != Some(declared.as_str()) {
        return Err(ApiError::bad_request(
            "invalid_image",
            format!("The file is not a valid {declared} image."),
        ));
    }
    // In the database, not on this replica's disk, so every replica serves it.
    let version = state.clock.now().millis();
    db::logo::put(&state.db, &declared, version, &bytes).await?;
    heartbeat::trigger(&state);
    Ok(Json(LogoAnswer {
        logo_url: logo_url(&state.config.public_url, version),
    }))
}

/// The brand logo (public).
#[utoipa::path(get, path = "/uploads/logo", tag = "network",
    responses((status = 200, description = "The image, as uploaded",
            content(("image/png"), ("image/jpeg"), ("image/webp"))),
        (status = 404, description = "`not_found`: no logo uploaded", body = ErrorBody)))]
async fn get_logo(State(state): State<AppState>) -> ApiResult<Response> {
    let Some(logo) = db::logo::get(state.db.pool()).await? else {
        return Err(ApiError::not_found("No logo has been uploaded."));
    };
    let (content_type, bytes) = (logo.content_type, logo.bytes);
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300".to_string()),
        ],
        bytes,
    )
        .into_response())
}
