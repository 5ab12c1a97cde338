//! `/config/brand`: the brand name partners see (emails, the portal, the console's header).
//! An admin's name is stored in the database, so every replica shows it; until one is set, the
//! configured `OPENPARTNER_BRAND_NAME` is used.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::brand::BrandName;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiJson;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_brand, put_brand))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrandView {
    /// The name in use.
    brand_name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BrandBody {
    /// 1–100 characters once trimmed, no control characters.
    brand_name: Option<String>,
}

/// The brand name in use (admin).
#[utoipa::path(get, path = "/config/brand", tag = "config", security(("bearer" = [])),
    responses((status = 200, body = BrandView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn get_brand(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<BrandView>> {
    auth.require_admin()?;
    let brand_name = db::settings::brand_name(state.db.pool(), &state.config.brand_name).await?;
    Ok(Json(BrandView { brand_name }))
}

/// Change the brand name (admin); audited as `config.update` of `brand_name`.
#[utoipa::path(put, path = "/config/brand", tag = "config", security(("bearer" = [])),
    request_body = BrandBody,
    responses((status = 200, body = BrandView),
        (status = 400, description = "`invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only; `csrf_failed`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody)))]
async fn put_brand(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<BrandBody>,
) -> ApiResult<Json<BrandView>> {
    auth.require_admin()?;
    let raw = body
        .brand_name
        .ok_or_else(|| ApiError::invalid_field("brandName", "is required"))?;
    let name = BrandName::parse(&raw).map_err(|why| ApiError::invalid_field("brandName", why))?;
    db::settings::set_brand_name(&state.db, &name, state.clock.now()).await?;
    Ok(Json(BrandView {
        brand_name: name.as_str().to_string(),
    }))
}

/// `s` safe to place in HTML text or a quoted attribute.
pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The brand name for a page, HTML-escaped. A page still renders when the database does not
/// answer: with the configured name.
pub(crate) async fn page_brand(state: &AppState) -> String {
    let name = match db::settings::brand_name(state.db.pool(), &state.config.brand_name).await {
        Ok(name) => name,
        Err(e) => {
            tracing::warn!(error = %e, "could not read the brand name; showing the configured one");
            state.config.brand_name.clone()
        }
    };
    html_escape(&name)
}

/// A page's HTML with `{{brand}}` replaced by the brand name.
pub(crate) async fn with_brand(state: &AppState, page: &str) -> String {
    page.replace("{{brand}}", &page_brand(state).await)
}
