//! Stripe Connect onboarding: `POST /partners/:id/connect/start` and
//! `GET /partners/:id/connect/status`, for the partner itself or an admin.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::ids::PartnerId;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath};
use crate::principal::Principal;
use crate::service::stripe_connect as connect;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(connect_start))
        .routes(routes!(connect_status))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConnectStartBody {
    /// Where Stripe sends the partner after onboarding: an absolute http(s) URL.
    return_url: Option<String>,
    /// Where Stripe sends the partner when the link has expired or was used: an absolute
    /// http(s) URL that starts onboarding again.
    refresh_url: Option<String>,
}

/// The onboarding link to send the partner to.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectLink {
    url: String,
    /// The link works once, until then.
    expires_at: Timestamp,
    /// The partner's connected account (`acct_…`).
    account_id: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectStatusView {
    /// Null until onboarding has started.
    account_id: Option<String>,
    details_submitted: bool,
    /// True once Stripe lets the account receive transfers: payouts go by Stripe.
    payouts_enabled: bool,
}

/// An admin, or the partner itself; anyone else is refused (403) before any lookup.
fn admin_or_self(auth: &Auth, partner: &PartnerId) -> ApiResult<()> {
    match &auth.0 {
        Principal::Admin { .. } => Ok(()),
        Principal::Partner { partner_id, .. } if partner_id == partner => Ok(()),
        _ => Err(ApiError::forbidden(
            "Only an admin or the partner itself may manage its Stripe account.",
        )),
    }
}

/// A required absolute http(s) URL of at most 2048 characters.
fn web_url(field: &str, value: Option<String>, errors: &mut Vec<(String, String)>) -> String {
    let Some(value) = value.map(|v| v.trim().to_string()) else {
        errors.push((field.into(), "is required".into()));
        return String::new();
    };
    let ok = value.len() <= 2048
        && url::Url::parse(&value)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !ok {
        errors.push((
            field.into(),
            "must be an absolute http(s) URL of at most 2048 characters".into(),
        ));
    }
    value
}

/// Start (or resume) Stripe Connect onboarding: creates the partner's Express account if it
/// has none, and answers a single-use onboarding link.
#[utoipa::path(post, path = "/partners/{id}/connect/start", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ConnectStartBody,
    responses((status = 200, body = ConnectLink),
        (status = 400, description = "`invalid_body` (fields named)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin nor this partner", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`partner_revoked`", body = ErrorBody),
        (status = 502, description = "`stripe_call_failed` (Stripe's code and message in `detail`, `stripeCode`)", body = ErrorBody),
        (status = 503, description = "`stripe_not_configured`", body = ErrorBody)))]
async fn connect_start(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ConnectStartBody>,
) -> ApiResult<Json<ConnectLink>> {
    let id = PartnerId::from_string(id);
    admin_or_self(&auth, &id)?;
    let mut errors = Vec::new();
    let return_url = web_url("returnUrl", body.return_url, &mut errors);
    let refresh_url = web_url("refreshUrl", body.refresh_url, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let started = connect::start(&state, &id, &return_url, &refresh_url).await?;
    Ok(Json(ConnectLink {
        url: started.url,
        expires_at: started.expires_at,
        account_id: started.account_id,
    }))
}

/// The partner's connected account as Stripe reports it now (read from Stripe and kept on the
/// partner; the `account.updated` webhook keeps it fresh in between).
#[utoipa::path(get, path = "/partners/{id}/connect/status", tag = "payouts", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ConnectStatusView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: not an admin nor this partner", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 502, description = "`stripe_call_failed`", body = ErrorBody),
        (status = 503, description = "`stripe_not_configured`", body = ErrorBody)))]
async fn connect_status(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ConnectStatusView>> {
    let id = PartnerId::from_string(id);
    admin_or_self(&auth, &id)?;
    let status = connect::status(&state, &id).await?;
    Ok(Json(ConnectStatusView {
        account_id: status.account_id,
        details_submitted: status.details_submitted,
        payouts_enabled: status.payouts_enabled,
    }))
}
