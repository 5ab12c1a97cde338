//! `/partners/:id/api-keys`: keys that act as one partner. The partner may manage only its own.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::ids::{ApiKeyId, PartnerId};
use crate::error::{ApiError, ApiResult, ErrorBody, OK, OkAnswer};
use crate::http::api_keys::{CreateKey, CreatedKey, KeyList, KeyView, clean_label};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, MaybeJson};
use crate::keys;
use crate::service::partners as svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_partner_key, list_partner_keys))
        .routes(routes!(delete_partner_key))
}

/// Mint a partner key (admin or the partner itself).
#[utoipa::path(post, path = "/partners/{id}/api-keys", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = CreateKey, description = "Optional"),
    responses((status = 201, body = CreatedKey),
        (status = 400, description = "`invalid_body`, `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`partner_revoked`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody)))]
async fn create_partner_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    let id = PartnerId::from_string(id);
    auth.require_admin_or_self(&id)?;
    let label = clean_label(body.label)?;
    svc::get_existing(&state, &id).await?;
    let Some(minted) =
        keys::mint_partner_key(&state.db, &state.clock, &id, label.as_deref()).await?
    else {
        return Err(ApiError::conflict(
            "partner_revoked",
            "This partner is revoked.",
        ));
    };
    Ok((StatusCode::CREATED, Json(minted.into())))
}

/// List the partner's keys (never their secrets).
#[utoipa::path(get, path = "/partners/{id}/api-keys", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = KeyList),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn list_partner_keys(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<KeyList>> {
    let id = PartnerId::from_string(id);
    auth.require_admin_or_self(&id)?;
    svc::get_existing(&state, &id).await?;
    let keys = db::api_keys::list(state.db.pool(), Some(&id)).await?;
    Ok(Json(KeyList::new(
        keys.into_iter().map(KeyView::from).collect(),
    )))
}

/// Revoke one of the partner's keys.
#[utoipa::path(delete, path = "/partners/{id}/api-keys/{key_id}", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path), ("key_id" = String, Path)),
    responses((status = 200, body = OkAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`: no such live key of this partner", body = ErrorBody)))]
async fn delete_partner_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath((id, key_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<OkAnswer>> {
    let id = PartnerId::from_string(id);
    auth.require_admin_or_self(&id)?;
    let key_id = ApiKeyId::from_string(key_id);
    let key = db::api_keys::get(state.db.pool(), &key_id).await?;
    if key.is_none_or(|k| k.partner_id.as_ref() != Some(&id)) {
        return Err(ApiError::not_found("No such key for this partner."));
    }
    if !db::api_keys::revoke(&state.db, &key_id, state.clock.now()).await? {
        return Err(ApiError::not_found("No such live key for this partner."));
    }
    state.auth.invalidate_all();
    Ok(Json(OK))
}
