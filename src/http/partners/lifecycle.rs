//! Partner lifecycle actions: invite, revoke, reinstate, approve.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::domain::ids::PartnerId;
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody, OK, OkAnswer};
use crate::http::auth::Auth;
use crate::http::json::{ApiPath, MaybeJson};
use crate::http::partners::PartnerView;
use crate::service::partners as svc;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(invite))
        .routes(routes!(revoke))
        .routes(routes!(reinstate))
        .routes(routes!(approve))
}

/// Re-issue the magic-link invite (idempotent: earlier links stay valid until they expire).
#[utoipa::path(post, path = "/partners/{id}/invite", operation_id = "invite_partner", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OkAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:write`), `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`already_activated`, `partner_revoked`", body = ErrorBody)))]
async fn invite(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OkAnswer>> {
    auth.require_scope(Scope::PartnersWrite)?;
    svc::reinvite(&state, &PartnerId::from_string(id)).await?;
    Ok(Json(OK))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevokeBody {
    /// Shown in the notification email and when the partner tries to sign in (≤ 500).
    reason: Option<String>,
    /// Email the partner. Default true.
    notify: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RevokeAnswer {
    ok: bool,
    #[schema(required = true)]
    revoked_at: Option<Timestamp>,
    notified: bool,
}

/// Suspend a partner: its sessions and partner keys end at once, no new attribution accrues,
/// historical commissions stay. Reversible with reinstate.
#[utoipa::path(post, path = "/partners/{id}/revoke", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)), request_body(content = RevokeBody, description = "Optional"),
    responses((status = 200, body = RevokeAnswer),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:write`), `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`already_revoked`", body = ErrorBody),
        (status = 415, description = "`unsupported_media_type`", body = ErrorBody)))]
async fn revoke(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    MaybeJson(body): MaybeJson<RevokeBody>,
) -> ApiResult<Json<RevokeAnswer>> {
    auth.require_scope(Scope::PartnersWrite)?;
    let reason = body
        .reason
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::invalid_field(
            "reason",
            "must be at most 500 characters",
        ));
    }
    let done = svc::revoke(
        &state,
        &PartnerId::from_string(id),
        reason,
        body.notify.unwrap_or(true),
    )
    .await?;
    Ok(Json(RevokeAnswer {
        ok: true,
        revoked_at: done.partner.revoked_at,
        notified: done.notified,
    }))
}

/// Clear a revocation. The partner signs in again with a new link.
#[utoipa::path(post, path = "/partners/{id}/reinstate", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OkAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:write`), `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_revoked`", body = ErrorBody)))]
async fn reinstate(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<OkAnswer>> {
    auth.require_scope(Scope::PartnersWrite)?;
    svc::reinstate(&state, &PartnerId::from_string(id)).await?;
    Ok(Json(OK))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApproveAnswer {
    ok: bool,
    partner: PartnerView,
}

/// Approve a self-signed-up partner awaiting review: activates it and emails a sign-in link.
#[utoipa::path(post, path = "/partners/{id}/approve", operation_id = "approve_partner", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ApproveAnswer),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody),
        (status = 409, description = "`not_pending_review`, `partner_revoked`", body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ApproveAnswer>> {
    auth.require_admin()?;
    let partner = svc::approve(&state, &PartnerId::from_string(id)).await?;
    Ok(Json(ApproveAnswer {
        ok: true,
        partner: partner.into(),
    }))
}
