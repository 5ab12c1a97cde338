//! Authentication as an extractor, and the authorization checks handlers call by name.
//! A key may arrive as `Authorization: Bearer <key>` (scheme case-insensitive) or, for
//! partner sessions, as the `op_session` cookie.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};

use crate::domain::ids::PartnerId;
use crate::domain::scopes::Scope;
use crate::domain::tokens::TokenKind;
use crate::error::{ApiError, ApiResult};
use crate::principal::Principal;
use crate::state::AppState;

pub const SESSION_COOKIE: &str = "op_session";
/// The admin console's session cookie.
pub const ADMIN_COOKIE: &str = "op_admin";
/// Writes authenticated by a session cookie (console or partner) must echo the session's CSRF
/// token here.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// An authenticated caller. Rejects with 401 `unauthorized` when no valid credential is sent.
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

/// Where the credential came from: a header always wins over cookies, so Bearer API clients
/// are never subject to the console's CSRF rule.
enum Presented<'a> {
    Header(&'a str),
    AdminCookie(&'a str),
    PartnerCookie(&'a str),
}

fn presented(parts: &Parts) -> Option<Presented<'_>> {
    if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
        let value = value.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        return scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| token.trim())
            .filter(|t| !t.is_empty())
            .map(Presented::Header);
    }
    if let Some(token) = cookie(&parts.headers, ADMIN_COOKIE).filter(|t| !t.is_empty()) {
        return Some(Presented::AdminCookie(token));
    }
    cookie(&parts.headers, SESSION_COOKIE)
        .filter(|t| !t.is_empty())
        .map(Presented::PartnerCookie)
}

/// The CSRF token of an admin console session: derived (HMAC with the instance key), so
/// nothing more is stored.
pub fn csrf_token(key: &[u8], session_token: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
    mac.update(b"csrf:");
    mac.update(crate::domain::tokens::hash_token(session_token).as_bytes());
    hex::encode(&mac.finalize().into_bytes()[..16])
}

/// A session cookie: HttpOnly, on the whole site, `Secure` when the public URL is https.
/// An empty value with `max_age` 0 clears it.
pub fn session_cookie(
    state: &AppState,
    name: &str,
    same_site: &str,
    value: &str,
    max_age: i64,
) -> HeaderValue {
    let secure = if state.config.public_url_is_https() {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"
    ))
    .expect("cookie is ASCII")
}

/// A cookie's value by name.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// A cookie's session token, checked for its kind and, on unsafe methods, the CSRF header.
fn cookie_secret<'a>(
    parts: &Parts,
    state: &AppState,
    token: &'a str,
    kind: TokenKind,
) -> Result<&'a str, ApiError> {
    if TokenKind::of(token) != Some(kind) {
        return Err(ApiError::unauthorized(
            "The session cookie is not a session of that kind.",
        ));
    }
    if !parts.method.is_safe() {
        let sent = parts
            .headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let expected = csrf_token(&state.cursor_key[..], token);
        if !crate::domain::tokens::ct_eq(sent, &expected) {
            return Err(ApiError::new(
                axum::http::StatusCode::FORBIDDEN,
                "csrf_failed",
                "This change came without the session's CSRF token (X-CSRF-Token). Reload the page and try again.",
            ));
        }
    }
    Ok(token)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = match presented(parts) {
            None => {
                return Err(ApiError::unauthorized(
                    "Send an API key as Authorization: Bearer <key>.",
                ));
            }
            Some(Presented::Header(s)) => s,
            // A cookie carries only the token kind its name says (an admin token sent as
            // `op_session` would otherwise dodge the console's rules), and a change it
            // authenticates must carry the session's CSRF token: SameSite alone is not enough.
            Some(Presented::AdminCookie(s)) => {
                cookie_secret(parts, state, s, TokenKind::AdminSession)?
            }
            Some(Presented::PartnerCookie(s)) => {
                cookie_secret(parts, state, s, TokenKind::Session)?
            }
        };
        match state.auth.authenticate(secret).await? {
            Some(principal) => {
                crate::db::audit::set_actor(actor_of(&principal));
                Ok(Auth(principal))
            }
            None => Err(ApiError::unauthorized(
                "The key is unknown, revoked or expired.",
            )),
        }
    }
}

/// The audit log's name for a caller: the key id (a console session acts as the key it was
/// opened with), `admin_api_key` for the configured key, or the partner.
pub fn actor_of(p: &Principal) -> crate::db::audit::Actor {
    use crate::db::audit::Actor;
    use crate::principal::PartnerCredential;
    match p {
        Principal::Admin { key_id: None } => Actor {
            id: "admin_api_key".into(),
            key_id: None,
        },
        Principal::Admin { key_id: Some(k) } | Principal::Scoped { key_id: k, .. } => Actor {
            id: k.to_string(),
            key_id: Some(k.to_string()),
        },
        Principal::Partner {
            partner_id,
            credential,
        } => Actor {
            id: format!("partner:{partner_id}"),
            key_id: match credential {
                PartnerCredential::Key(k) => Some(k.to_string()),
                PartnerCredential::Session(_) => None,
            },
        },
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
