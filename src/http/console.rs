//! The admin console: pages and assets compiled into the binary (no front-end server, no CDN),
//! and its sign-in. An admin pastes an admin key once; the console then holds an HttpOnly,
//! SameSite=Strict `op_admin` session cookie, and every change it makes carries the session's
//! CSRF token in `X-CSRF-Token`. The pages are thin HTML shells; `app.js` calls the JSON API.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, SET_COOKIE};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::tokens::{NewToken, TokenKind, hash_token};
use crate::error::{ApiError, ApiResult, ErrorBody, OK, OkAnswer};
use crate::http::auth::{ADMIN_COOKIE, Auth, cookie, csrf_token, session_cookie};
use crate::http::json::ApiJson;
use crate::http::rate_limit::{ClientIp, check};
use crate::state::AppState;

pub const SESSION_HOURS: i64 = 12;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(sign_in, session))
        .routes(routes!(sign_out))
        .routes(routes!(sign_out_all))
        .routes(routes!(console_home))
        .routes(routes!(login_page))
        .routes(routes!(network_page))
        .routes(routes!(partners_page))
        .routes(routes!(partner_page))
        .routes(routes!(programs_page))
        .routes(routes!(webhooks_page))
        .routes(routes!(payouts_page))
        .routes(routes!(stripe_page))
        .routes(routes!(commissions_page))
        .routes(routes!(app_js))
        .routes(routes!(webhooks_js))
        .routes(routes!(payouts_js))
        .routes(routes!(stripe_js))
        .routes(routes!(commissions_js))
        .routes(routes!(overview_page))
        .routes(routes!(api_keys_page))
        .routes(routes!(settings_page))
        .routes(routes!(overview_js))
        .routes(routes!(settings_js))
        .routes(routes!(chart_js))
        .routes(routes!(audit_page))
        .routes(routes!(audit_js))
        .routes(routes!(app_css))
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
    state
        .db
        .create_admin_session(
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
        state
            .db
            .end_admin_session(&hash_token(token), state.clock.now())
            .await?;
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
    let ended = state.db.end_all_admin_sessions(state.clock.now()).await?;
    state.auth.invalidate_all();
    let mut out = HeaderMap::new();
    out.insert(
        SET_COOKIE,
        session_cookie(&state, ADMIN_COOKIE, "Strict", "", 0),
    );
    Ok((out, Json(SignedOutAll { ok: true, ended })).into_response())
}

macro_rules! page {
    ($name:ident, $path:literal, $file:literal, $doc:literal $(, params($($params:tt)*))?) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path, tag = "console", $(params($($params)*),)?
            responses((status = 200, description = "HTML page", content_type = "text/html")))]
        async fn $name() -> Response {
            html(include_str!(concat!("console/", $file)))
        }
    };
}

/// Pages only talk to this origin; scripts and styles come from the binary itself.
fn html(body: &'static str) -> Response {
    (
        [
            (CACHE_CONTROL, "no-store"),
            (
                CONTENT_SECURITY_POLICY,
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
            ),
        ],
        Html(body),
    )
        .into_response()
}

/// The console's home: the Overview page.
#[utoipa::path(get, path = "/admin", tag = "console", responses((status = 303, description = "To /admin/overview")))]
async fn console_home() -> Redirect {
    Redirect::to("/admin/overview")
}

page!(
    login_page,
    "/admin/login",
    "login.html",
    "The console's sign-in page."
);
page!(
    network_page,
    "/admin/network",
    "network.html",
    "The Network page."
);
page!(
    partners_page,
    "/admin/partners",
    "partners.html",
    "The partners page."
);
page!(
    partner_page,
    "/admin/partners/{id}",
    "partner.html",
    "One partner: links, snapshot, dashboard (the page reads the id from its address).",
    params(("id" = String, Path, description = "Partner id"))
);
page!(
    programs_page,
    "/admin/programs",
    "programs.html",
    "The programs page."
);

page!(
    webhooks_page,
    "/admin/webhooks",
    "webhooks.html",
    "The webhooks page: endpoints, test events, the delivery log."
);

page!(
    payouts_page,
    "/admin/payouts",
    "payouts.html",
    "The payouts page: balances, a previewed payout run, the list and its actions, the CSV export."
);
page!(
    commissions_page,
    "/admin/commissions",
    "commissions.html",
    "The commissions page: filter, approve one or many, reverse with a reason."
);
page!(
    stripe_page,
    "/admin/stripe",
    "stripe.html",
    "The Stripe page: the webhook URL for Stripe's dashboard, the received events, retry."
);
page!(
    audit_page,
    "/admin/audit-log",
    "audit.html",
    "The audit log page: who changed what, newest first."
);

macro_rules! script {
    ($name:ident, $path:literal, $file:literal, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(get, path = $path, tag = "console",
            responses((status = 200, description = "JavaScript", content_type = "text/javascript")))]
        async fn $name() -> Response {
            (
                [
                    (CONTENT_TYPE, "text/javascript; charset=utf-8"),
                    (CACHE_CONTROL, "no-cache"),
                ],
                include_str!(concat!("console/", $file)),
            )
                .into_response()
        }
    };
}

script!(
    webhooks_js,
    "/admin/assets/webhooks.js",
    "webhooks.js",
    "The webhooks page's script (it uses `app.js`'s helpers)."
);
script!(
    payouts_js,
    "/admin/assets/payouts.js",
    "payouts.js",
    "The payouts page's script (it uses `app.js`'s helpers)."
);
script!(
    stripe_js,
    "/admin/assets/stripe.js",
    "stripe.js",
    "The Stripe page's script (it uses `app.js`'s helpers)."
);
script!(
    commissions_js,
    "/admin/assets/commissions.js",
    "commissions.js",
    "The commissions page's script (it uses `app.js`'s helpers)."
);
script!(
    audit_js,
    "/admin/assets/audit.js",
    "audit.js",
    "The audit log page's script (it uses `app.js`'s helpers)."
);

script!(
    app_js,
    "/admin/assets/app.js",
    "app.js",
    "The console's script."
);

/// The console's styles.
#[utoipa::path(get, path = "/admin/assets/app.css", tag = "console",
    responses((status = 200, description = "CSS", content_type = "text/css")))]
async fn app_css() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        include_str!("console/app.css"),
    )
        .into_response()
}

page!(
    overview_page,
    "/admin/overview",
    "overview.html",
    "The console's home: the period's totals, the program's chart, top partners and links."
);
page!(
    api_keys_page,
    "/admin/api-keys",
    "api-keys.html",
    "The API keys page: list, create (shown once), revoke."
);
page!(
    settings_page,
    "/admin/settings",
    "settings.html",
    "The settings page: partner sign-up, payouts, brand."
);
script!(
    overview_js,
    "/admin/assets/overview.js",
    "overview.js",
    "The overview page's script (it uses `app.js`'s helpers and `chart.js`)."
);
script!(
    settings_js,
    "/admin/assets/settings.js",
    "settings.js",
    "The API keys and settings pages' script (it uses `app.js`'s helpers)."
);
script!(
    chart_js,
    "/admin/assets/chart.js",
    "chart.js",
    "SVG charts, shared by the console and the partner portal."
);
