//! The admin console: pages and assets compiled into the binary (no front-end server, no CDN),
//! and its sign-in. An admin pastes an admin key once; the console then holds an HttpOnly,
//! SameSite=Strict `op_admin` session cookie, and every change it makes carries the session's
//! CSRF token in `X-CSRF-Token`. The pages are thin HTML shells; `app.js` calls the JSON API.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::tokens::{NewToken, TokenKind, hash_token};
use crate::error::{ApiError, ApiResult, ErrorBody, OK, OkAnswer};
use crate::http::auth::{ADMIN_COOKIE, Auth, cookie, csrf_token, session_cookie};
use crate::http::json::ApiJson;
use crate::http::rate_limit::{ClientIp, check};
use crate::state::AppState;

mod pages;

pub const SESSION_HOURS: i64 = 12;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in, session))
        .routes(routes!(sign_out))
        .routes(routes!(sign_out_all))
        .merge(pages::router())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// An admin API key (or the configured ADMIN_API_KEY).
    key: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignedIn {
    ok: bool,
    /// Send it as `X-CSRF-Token` with every change made through the session.
    csrf_token: String,
}

/// The console session as `GET /admin/session` sees it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleSession {
    /// Always `admin`.
    role: &'static str,
    /// The session's CSRF token; `null` when the request came with a bearer key, not the cookie.
    #[schema(required = true)]
    csrf_token: Option<String>,
}

/// Sign in to the console with an admin key: opens a session cookie.
#[utoipa::path(post, path = "/admin/session", tag = "console", request_body = SignIn,
    responses((status = 200, description = "Sets the `op_admin` cookie", body = SignedIn),
        (status = 400, description = "`invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`: not an admin key", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignIn>,
) -> ApiResult<Response> {
    check(&state.rate_limits.verify, ip)?;
    // Bound to the key that opens it: revoking that key (or changing ADMIN_API_KEY) ends it.
    let Some(key) = state.auth.sign_in_key(body.key.trim()).await? else {
        return Err(ApiError::unauthorized("That is not an admin key."));
    };
    let token = NewToken::generate(TokenKind::AdminSession);
    let now = state.clock.now();
    db::sessions::create_admin(
        &state.db,
        &token.hash,
        &key,
        now,
        now.plus_millis(SESSION_HOURS * 3_600_000),
    )
    .await?;
    let mut headers = HeaderMap::new();
    headers.insert(
        SET_COOKIE,
        session_cookie(
            &state,
            ADMIN_COOKIE,
            "Strict",
            &token.plaintext,
            SESSION_HOURS * 3600,
        ),
    );
    let csrf = csrf_token(&state.cursor_key[..], &token.plaintext);
    Ok((
        headers,
        Json(SignedIn {
            ok: true,
            csrf_token: csrf,
        }),
    )
        .into_response())
}

/// The console session: who is signed in and the CSRF token its changes must carry.
#[utoipa::path(get, path = "/admin/session", tag = "console", security(("bearer" = [])),
    responses((status = 200, body = ConsoleSession),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn session(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
) -> ApiResult<Json<ConsoleSession>> {
    auth.require_admin()?;
    let csrf = admin_cookie(&headers).map(|t| csrf_token(&state.cursor_key[..], t));
    Ok(Json(ConsoleSession {
        role: "admin",
        csrf_token: csrf,
    }))
}

fn admin_cookie(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, ADMIN_COOKIE).filter(|t| !t.is_empty())
}

/// Sign out of the console.
#[utoipa::path(post, path = "/admin/session/signout", tag = "console",
    responses((status = 200, description = "The cookie is cleared", body = OkAnswer)))]
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<Response> {
    if let Some(token) = admin_cookie(&headers) {
        db::sessions::end_admin(&state.db, &hash_token(token), state.clock.now()).await?;
        state.auth.invalidate_all();
    }
    let mut out = HeaderMap::new();
    out.insert(
        SET_COOKIE,
        session_cookie(&state, ADMIN_COOKIE, "Strict", "", 0),
    );
    Ok((out, Json(OK)).into_response())
}

#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct SignedOutAll {
    ok: bool,
    /// How many sessions ended.
    ended: u64,
}

/// End every console session (every admin is signed out), e.g. after a suspected leak.
#[utoipa::path(post, path = "/admin/session/signout-all", tag = "console", security(("bearer" = [])),
    responses((status = 200, body = SignedOutAll),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only; `csrf_failed`", body = ErrorBody)))]
async fn sign_out_all(State(state): State<AppState>, auth: Auth) -> ApiResult<Response> {
    auth.require_admin()?;
    let ended = db::sessions::end_all_admin(&state.db, state.clock.now()).await?;
    state.auth.invalidate_all();
    let mut out = HeaderMap::new();
    out.insert(
        SET_COOKIE,
        session_cookie(&state, ADMIN_COOKIE, "Strict", "", 0),
    );
    Ok((out, Json(SignedOutAll { ok: true, ended })).into_response())
}
