//! `/api-keys`: admin management of admin and scoped keys. Secrets are returned once, at
//! creation, and never again.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::api_keys::{ApiKeyRow, KeyKind};
use crate::domain::ids::{ApiKeyId, PartnerId};
use crate::domain::scopes::{Scope, ScopeSet};
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody, OK, OkAnswer};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath, MaybeJson};
use crate::keys;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_admin_key, list_keys))
        .routes(routes!(create_scoped_key))
        .routes(routes!(revoke_key))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateKey {
    /// Free text to recognise the key by (≤ 100 characters).
    pub label: Option<String>,
}

/// A scope's wire name, for the document: one of [`Scope::ALL`].
pub struct ScopeName;

impl utoipa::PartialSchema for ScopeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Scope::ALL.map(Scope::as_str)))
            .into()
    }
}

impl utoipa::ToSchema for ScopeName {}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateScopedKey {
    /// At least one scope.
    #[schema(value_type = Vec<ScopeName>)]
    scopes: Vec<String>,
    label: Option<String>,
}

/// A key just created. `plaintext` is shown this once only.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    id: ApiKeyId,
    plaintext: String,
    prefix: String,
    #[schema(required = true)]
    label: Option<String>,
    kind: &'static str,
    #[schema(value_type = Vec<ScopeName>)]
    scopes: Vec<&'static str>,
    #[schema(required = true)]
    partner_id: Option<PartnerId>,
    created_at: Timestamp,
}

/// A key as listed: never its secret.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    id: ApiKeyId,
    prefix: String,
    #[schema(required = true)]
    label: Option<String>,
    /// `admin`, `scoped` or `partner`.
    kind: &'static str,
    #[schema(value_type = Vec<ScopeName>)]
    scopes: Vec<&'static str>,
    #[schema(required = true)]
    partner_id: Option<PartnerId>,
    created_at: Timestamp,
    #[schema(required = true)]
    last_used_at: Option<Timestamp>,
    #[schema(required = true)]
    revoked_at: Option<Timestamp>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyList {
    api_keys: Vec<KeyView>,
}

impl KeyList {
    pub fn new(api_keys: Vec<KeyView>) -> Self {
        KeyList { api_keys }
    }
}

impl From<ApiKeyRow> for KeyView {
    fn from(k: ApiKeyRow) -> Self {
        KeyView {
            id: k.id,
            prefix: k.prefix,
            label: k.label,
            kind: k.kind.as_str(),
            scopes: k.scopes.names(),
            partner_id: k.partner_id,
            created_at: k.created_at,
            last_used_at: k.last_used_at,
            revoked_at: k.revoked_at,
        }
    }
}

impl From<keys::MintedKey> for CreatedKey {
    fn from(m: keys::MintedKey) -> Self {
        CreatedKey {
            id: m.row.id,
            plaintext: m.plaintext,
            prefix: m.row.prefix,
            label: m.row.label,
            kind: m.row.kind.as_str(),
            scopes: m.row.scopes.names(),
            partner_id: m.row.partner_id,
            created_at: m.row.created_at,
        }
    }
}

/// Validates an optional label: trimmed, 1–100 characters, or absent.
pub fn clean_label(label: Option<String>) -> ApiResult<Option<String>> {
    match label.map(|l| l.trim().to_owned()) {
        Some(l) if l.chars().count() > 100 => Err(ApiError::invalid_field(
            "label",
            "must be at most 100 characters",
        )),
        Some(l) if l.is_empty() => Ok(None),
        other => Ok(other),
    }
}

/// Create an admin key.
#[utoipa::path(post, path = "/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body(content = CreateKey, description = "Optional body"),
    responses(
        (status = 201, body = CreatedKey),
        (status = 400, description = "`invalid_body`, `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody)))]
async fn create_admin_key(
    State(state): State<AppState>,
    auth: Auth,
    MaybeJson(body): MaybeJson<CreateKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    auth.require_admin()?;
    let label = clean_label(body.label)?;
    let minted = keys::mint(
        &state.db,
        &state.clock,
        KeyKind::Admin,
        ScopeSet::default(),
        None,
        label.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(minted.into())))
}

/// Create a scoped key.
#[utoipa::path(post, path = "/api-keys/scoped", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateScopedKey,
    responses(
        (status = 201, body = CreatedKey),
        (status = 400, description = "`invalid_body` (no scopes, unknown scope), `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody)))]
async fn create_scoped_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateScopedKey>,
) -> ApiResult<(StatusCode, Json<CreatedKey>)> {
    auth.require_admin()?;
    if body.scopes.is_empty() {
        return Err(ApiError::invalid_field(
            "scopes",
            "must name at least one scope",
        ));
    }
    let scopes =
        ScopeSet::parse_all(body.scopes.iter().map(String::as_str)).map_err(|unknown| {
            ApiError::invalid_field("scopes", format!("unknown scopes: {}", unknown.join(", ")))
        })?;
    let label = clean_label(body.label)?;
    let minted = keys::mint(
        &state.db,
        &state.clock,
        KeyKind::Scoped,
        scopes,
        None,
        label.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(minted.into())))
}

/// List every key (never a secret).
#[utoipa::path(get, path = "/api-keys", tag = "api-keys", security(("bearer" = [])),
    responses(
        (status = 200, body = KeyList),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn list_keys(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<KeyList>> {
    auth.require_admin()?;
    let keys = db::api_keys::list(state.db.pool(), None).await?;
    Ok(Json(KeyList {
        api_keys: keys.into_iter().map(KeyView::from).collect(),
    }))
}

/// Revoke a key. It fails on the very next request.
#[utoipa::path(delete, path = "/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, description = "Key id")),
    responses(
        (status = 200, body = OkAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`: no such live key", body = ErrorBody)))]
async fn revoke_key(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OkAnswer>> {
    auth.require_admin()?;
    let id = ApiKeyId::from_string(id);
    if !db::api_keys::revoke(&state.db, &id, state.clock.now()).await? {
        return Err(ApiError::not_found("No such live key."));
    }
    state.auth.invalidate_all();
    Ok(Json(OK))
}
