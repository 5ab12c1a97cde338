//! Partner sign-in: the magic-link landing page (a button, so mail scanners that prefetch the
//! link do not consume it), verification into an `op_session` cookie, whoami, sign-out, and
//! requesting a sign-in link.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{CACHE_CONTROL, SET_COOKIE};
use axum::response::{Html, IntoResponse};
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::email::Email;
use crate::domain::ids::PartnerId;
use crate::error::{ApiError, ApiResult, ErrorBody, OK, OkAnswer};
use crate::http::api_keys::ScopeName;
use crate::http::auth::{Auth, SESSION_COOKIE, cookie, csrf_token, session_cookie};
use crate::http::brand::html_escape;
use crate::http::json::{ApiJson, ApiQuery};
use crate::http::partners::PartnerView;
use crate::http::rate_limit::{ClientIp, check};
use crate::principal::{PartnerCredential, Principal};
use crate::service::magic::{self, SESSION_TTL_DAYS};
use crate::service::partners as svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(magic_page))
        .routes(routes!(verify))
        .routes(routes!(whoami))
        .routes(routes!(partner_session))
        .routes(routes!(signout))
        .routes(routes!(signin))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MagicQuery {
    /// The `opml_…` token from the emailed link.
    token: Option<String>,
}

/// The page an emailed magic link opens. It does not consume the link: its button does.
#[utoipa::path(get, path = "/auth/magic", tag = "auth", params(MagicQuery),
    responses((status = 200, description = "HTML page", content_type = "text/html"),
        (status = 400, description = "`invalid_query`", body = ErrorBody)))]
async fn magic_page(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<MagicQuery>,
) -> impl IntoResponse {
    // Only a well-formed token is echoed into the page (hex, so nothing to escape).
    let token = q
        .token
        .filter(|t| {
            crate::domain::tokens::TokenKind::of(t)
                == Some(crate::domain::tokens::TokenKind::MagicLink)
        })
        .unwrap_or_default();
    let brand = crate::http::brand::page_brand(&state).await;
    // A revoked partner's link says why instead of offering to sign in (seed 004).
    let suspended = match magic::suspended_reason(&state, &token).await {
        Ok(reason) => reason,
        Err(e) => {
            tracing::warn!(error = %e, "could not check the link's partner");
            None
        }
    };
    let page = match suspended {
        Some(reason) => SUSPENDED_PAGE
            .replace("{{brand}}", &brand)
            .replace("{{reason}}", &html_escape(&reason)),
        None => MAGIC_PAGE
            .replace("{{brand}}", &brand)
            .replace("{{token}}", &token),
    };
    (
        [
            (CACHE_CONTROL, "no-store"),
            (axum::http::header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
}

const MAGIC_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · {{brand}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;line-height:1.5}
button{font-size:1rem;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#1d4ed8;color:#fff;cursor:pointer}
button:disabled{opacity:.6}#msg{margin-top:1rem}</style></head>
<body><main>
<h1>{{brand}} partner program</h1>
<p>Press the button to finish signing in.</p>
<button id="go" type="button">Continue</button>
<p id="msg" role="status" aria-live="polite"></p>
</main>
<script>
const token = "{{token}}";
const btn = document.getElementById("go"), msg = document.getElementById("msg");
if (!token) { btn.disabled = true; msg.textContent = "This link is incomplete. Ask for a new one."; }
btn.addEventListener("click", async () => {
  btn.disabled = true; msg.textContent = "Signing in…";
  try {
    const r = await fetch("/auth/magic/verify", {method: "POST", headers: {"content-type": "application/json"},
      body: JSON.stringify({token}), credentials: "same-origin"});
    const b = await r.json();
    if (r.ok && b.status !== "pending_review") {
      msg.textContent = "Signed in as " + b.partner.name + ". Opening your portal…";
      location.href = "/portal";
    } else if (r.ok) { msg.textContent = "Email confirmed. We will email you once your application is approved."; }
    else { msg.textContent = b.detail || "Sign-in failed."; btn.disabled = false; }
  } catch (e) { msg.textContent = "Network error: " + e; btn.disabled = false; }
});
</script></body></html>"#;

const SUSPENDED_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Account suspended · {{brand}}</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem;line-height:1.5}</style></head>
<body><main>
<h1>{{brand}} partner program</h1>
<p id="suspended">Your partner account is suspended, so you cannot sign in.</p>
<p><strong>Reason:</strong> <span id="reason">{{reason}}</span></p>
<p>If you think this is a mistake, reply to {{brand}}.</p>
</main></body></html>"#;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// The `opml_…` token from the emailed link.
    token: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PartnerBrief {
    id: PartnerId,
    name: String,
    email: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct VerifyAnswer {
    ok: bool,
    role: &'static str,
    /// `active`, or `pending_review` (email confirmed, no session until approved).
    status: &'static str,
    partner: PartnerBrief,
    /// With a session: the token every change made with the `op_session` cookie must carry
    /// in `X-CSRF-Token`. Also at `GET /auth/session`.
    #[serde(rename = "csrfToken", skip_serializing_if = "Option::is_none")]
    csrf_token: Option<String>,
}

/// Consume a magic link: activates a pending partner and sets the `op_session` cookie.
#[utoipa::path(post, path = "/auth/magic/verify", tag = "auth", request_body = VerifyBody,
    responses((status = 200, body = VerifyAnswer, description = "Sets `op_session` (HttpOnly, SameSite=Lax, 30 days)"),
        (status = 400, description = "`invalid_or_expired_token`, `invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 403, description = "`partner_revoked` (reason in `detail`)", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody)))]
async fn verify(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<VerifyBody>,
) -> ApiResult<impl IntoResponse> {
    check(&state.rate_limits.verify, ip)?;
    let verified = magic::verify(&state, body.token.trim()).await?;
    let mut headers = HeaderMap::new();
    if let Some(session) = &verified.session {
        headers.insert(
            SET_COOKIE,
            session_cookie(
                &state,
                SESSION_COOKIE,
                "Lax",
                session,
                SESSION_TTL_DAYS * 86_400,
            ),
        );
    }
    let p = verified.partner;
    Ok((
        headers,
        Json(VerifyAnswer {
            ok: true,
            role: "partner",
            status: if verified.session.is_some() {
                "active"
            } else {
                "pending_review"
            },
            partner: PartnerBrief {
                id: p.id,
                name: p.name,
                email: p.email,
            },
            csrf_token: verified
                .session
                .as_ref()
                .map(|t| csrf_token(&state.cursor_key[..], t)),
        }),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerSession {
    partner_id: PartnerId,
    /// Send it as `X-CSRF-Token` with every change made with the `op_session` cookie.
    csrf_token: String,
}

/// The partner's cookie session: who it is and the CSRF token its changes must carry.
#[utoipa::path(get, path = "/auth/session", tag = "auth",
    responses((status = 200, body = PartnerSession),
        (status = 401, description = "`unauthorized`: no partner session cookie", body = ErrorBody)))]
async fn partner_session(
    State(state): State<AppState>,
    Auth(principal): Auth,
    headers: HeaderMap,
) -> ApiResult<Json<PartnerSession>> {
    let (
        Principal::Partner {
            partner_id,
            credential: PartnerCredential::Session(_),
        },
        Some(token),
    ) = (principal, cookie(&headers, SESSION_COOKIE))
    else {
        return Err(ApiError::unauthorized(
            "This needs the op_session cookie of a signed-in partner.",
        ));
    };
    Ok(Json(PartnerSession {
        partner_id,
        csrf_token: csrf_token(&state.cursor_key[..], token),
    }))
}

/// Who the credential belongs to, told apart by `role`.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(tag = "role", rename_all = "lowercase")]
pub enum WhoAmI {
    Admin,
    Scoped {
        #[schema(value_type = Vec<ScopeName>)]
        scopes: Vec<&'static str>,
    },
    Partner {
        #[serde(rename = "partnerId")]
        partner_id: PartnerId,
        partner: Box<PartnerView>,
    },
}

/// Who the credential belongs to.
#[utoipa::path(get, path = "/auth/whoami", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = WhoAmI),
        (status = 401, description = "`unauthorized`", body = ErrorBody)))]
async fn whoami(State(state): State<AppState>, Auth(principal): Auth) -> ApiResult<Json<WhoAmI>> {
    Ok(Json(match principal {
        Principal::Admin { .. } => WhoAmI::Admin,
        Principal::Scoped { scopes, .. } => WhoAmI::Scoped {
            scopes: scopes.names(),
        },
        Principal::Partner { partner_id, .. } => {
            let partner = svc::get_existing(&state, &partner_id).await?;
            WhoAmI::Partner {
                partner_id,
                partner: Box::new(partner.into()),
            }
        }
    }))
}

/// End the current session and clear its cookie.
#[utoipa::path(post, path = "/auth/signout", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "The session cookie is cleared", body = OkAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody)))]
async fn signout(
    State(state): State<AppState>,
    Auth(principal): Auth,
) -> ApiResult<impl IntoResponse> {
    if let Principal::Partner {
        credential: PartnerCredential::Session(id),
        ..
    } = &principal
    {
        db::sessions::end(&state.db, id, state.clock.now()).await?;
        state.auth.invalidate_all();
    }
    let mut headers = HeaderMap::new();
    headers.insert(
        SET_COOKIE,
        session_cookie(&state, SESSION_COOKIE, "Lax", "", 0),
    );
    Ok((headers, Json(OK)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninBody {
    email: String,
}

/// Email a sign-in link to an active partner. Always answers `{"ok": true}` (no account
/// enumeration).
#[utoipa::path(post, path = "/auth/signin", tag = "auth", request_body = SigninBody,
    responses((status = 200, body = OkAnswer),
        (status = 400, description = "`invalid_json`, `invalid_body`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody)))]
async fn signin(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SigninBody>,
) -> ApiResult<Json<OkAnswer>> {
    check(&state.rate_limits.signin, ip)?;
    if let Ok(email) = Email::parse(&body.email) {
        svc::send_signin_link(&state, &email).await?;
    }
    Ok(Json(OK))
}
