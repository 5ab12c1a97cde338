//! Authentication as an extractor, and the authorization checks handlers call by name.
//! A key may arrive as `Authorization: Bearer <key>` (scheme case-insensitive) or, for
//! partner sessions, as the `op_session` cookie.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use crate::domain::ids::PartnerId;
use crate::domain::scopes::Scope;
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "op_session";

/// An authenticated caller. Rejects with 401 `unauthorized` when no valid credential is sent.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

/// The bearer token, or the session cookie, from the request.
pub fn presented_secret(parts: &Parts) -> Option<&str> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty());
    }
    cookie(parts, SESSION_COOKIE)
}

/// A cookie's value by name.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Some(secret) = presented_secret(parts) else {
            return Err(ApiError::unauthorized(
                "Send an API key as Authorization: Bearer <key>.",
            ));
        };
        match state.auth.authenticate(secret).await? {
            Some(principal) => Ok(Auth(principal)),
            None => Err(ApiError::unauthorized(
                "The key is unknown, revoked or expired.",
            )),
        }
    }
}

impl Auth {
    /// Admin-only routes: scoped and partner callers get 403 `forbidden`.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.0.is_admin() {
            Ok(())
        } else {
            Err(ApiError::forbidden("This endpoint needs an admin key."))
        }
    }

    /// Admin, or a scoped key holding `scope`. Partners get 403 `forbidden`.
    pub fn require_scope(&self, scope: Scope) -> ApiResult<()> {
        match &self.0 {
            Principal::Admin { .. } => Ok(()),
            Principal::Scoped { scopes, .. } if scopes.contains(scope) => Ok(()),
            Principal::Scoped { .. } => Err(ApiError::forbidden_scope(scope)),
            Principal::Partner { .. } => Err(ApiError::forbidden(
                "Partner credentials cannot use this endpoint.",
            )),
        }
    }

    /// Admin, a scoped key with `scope`, or the partner itself. Another partner gets 404 so
    /// that the existence of other partners is not revealed.
    pub fn require_partner_access(&self, partner: &PartnerId, scope: Scope) -> ApiResult<()> {
        match &self.0 {
            Principal::Partner { partner_id, .. } if partner_id == partner => Ok(()),
            Principal::Partner { .. } => Err(ApiError::not_found("No such partner.")),
            _ => self.require_scope(scope),
        }
    }

    /// Admin or the partner itself (no scoped keys).
    pub fn require_admin_or_self(&self, partner: &PartnerId) -> ApiResult<()> {
        match &self.0 {
            Principal::Admin { .. } => Ok(()),
            Principal::Partner { partner_id, .. } if partner_id == partner => Ok(()),
            Principal::Partner { .. } => Err(ApiError::not_found("No such partner.")),
            Principal::Scoped { .. } => {
                Err(ApiError::forbidden("This endpoint needs an admin key."))
            }
        }
    }
}
