//! Partner self-signup (public) and its policy (admin).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::partners::{GrantSource, PartnerSource, SignupApproval};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiJson;
use crate::http::partners::{clean_email, clean_name};
use crate::http::rate_limit::{ClientIp, check};
use crate::service::partners::{self as svc, CreatePartner};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(partner_signup))
        .routes(routes!(get_policy, set_policy))
}

const POLICY_KEY: &str = "partner_signup";

#[derive(Serialize, Deserialize, Clone, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupPolicy {
    /// `auto_approve` (default) or `require_review`.
    #[schema(value_type = String)]
    policy: SignupApproval,
    /// Default false.
    disabled: bool,
}

impl Default for SignupPolicy {
    fn default() -> Self {
        SignupPolicy {
            policy: SignupApproval::AutoApprove,
            disabled: false,
        }
    }
}

async fn load_policy(state: &AppState) -> ApiResult<SignupPolicy> {
    Ok(
        match db::settings::get(state.db.pool(), POLICY_KEY).await? {
            Some(text) => stored_policy(&text),
            None => SignupPolicy::default(),
        },
    )
}

/// The stored policy, field by field. What cannot be read fails closed (sign-up disabled, or
/// every new partner reviewed), never open: a brand that closed sign-up must not find it open.
fn stored_policy(text: &str) -> SignupPolicy {
    let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let disabled = v.get("disabled").and_then(Value::as_bool);
    let policy = v
        .get("policy")
        .and_then(Value::as_str)
        .and_then(SignupApproval::parse);
    if disabled.is_none() || policy.is_none() {
        tracing::error!(
            "the stored sign-up policy is unreadable; sign-up stays closed until it is saved again"
        );
    }
    SignupPolicy {
        policy: policy.unwrap_or(SignupApproval::RequireReview),
        disabled: disabled.unwrap_or(true),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupBody {
    email: Option<String>,
    name: Option<String>,
    /// Free-form creator profile (handle, links, audience...).
    #[schema(value_type = Option<Object>)]
    profile: Option<Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignupAnswer {
    ok: bool,
    /// The program's sign-up policy outcome: `active`, or `pending_review` (the brand reviews
    /// new partners). The same answer whether or not the address was already registered.
    status: &'static str,
}

/// Sign up as a partner. Emails a magic link to confirm the address. The answer is the same
/// whether or not the address is registered (no enumeration): an existing partner is sent a
/// sign-in link instead, and the mail to the unverified address quotes nothing the caller wrote.
#[utoipa::path(post, path = "/partner-signup", tag = "partners", request_body = SignupBody,
    responses((status = 201, body = SignupAnswer),
        (status = 400, description = "`invalid_body`, `invalid_json`", body = ErrorBody),
        (status = 403, description = "`signup_disabled`", body = ErrorBody),
        (status = 429, description = "`rate_limited`", body = ErrorBody)))]
async fn partner_signup(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(body): ApiJson<SignupBody>,
) -> ApiResult<(StatusCode, Json<SignupAnswer>)> {
    check(&state.rate_limits.signup, ip)?;
    let policy = load_policy(&state).await?;
    if policy.disabled {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "signup_disabled",
            "Partner sign-up is closed.",
        ));
    }
    let mut errors = Vec::new();
    let email = clean_email(body.email.as_deref(), &mut errors);
    let name = clean_name(body.name, &mut errors);
    let profile = match body.profile {
        None | Some(Value::Null) => None,
        Some(v @ Value::Object(_)) if v.to_string().len() <= 16 * 1024 => Some(v.to_string()),
        Some(_) => {
            errors.push((
                "profile".into(),
                "must be an object of at most 16 KiB".into(),
            ));
            None
        }
    };
    let (Some(email), true) = (email, errors.is_empty()) else {
        return Err(ApiError::invalid_body(errors));
    };
    let review = policy.policy == SignupApproval::RequireReview;
    let answer = || {
        (
            StatusCode::CREATED,
            Json(SignupAnswer {
                ok: true,
                status: if review { "pending_review" } else { "active" },
            }),
        )
    };
    if db::partners::get_by_email(state.db.pool(), email.as_str())
        .await?
        .is_some()
    {
        svc::send_signin_link(&state, &email).await?;
        return Ok(answer());
    }
    let created = svc::create(
        &state,
        CreatePartner {
            email,
            name,
            send_invite: true,
            metadata: Default::default(),
            // Only the programs open to sign-up, never every program.
            program_ids: Some(
                db::programs::signup_ids(state.db.pool())
                    .await?
                    .into_iter()
                    .map(|p| p.to_string())
                    .collect(),
            ),
            campaign_grant_source: GrantSource::Admin,
            snapshot: None,
            source: PartnerSource::SelfSignup,
            profile,
            pending_review: review,
        },
    )
    .await;
    match created {
        Ok(_) => Ok(answer()),
        // A concurrent sign-up with the same email won the race.
        Err(svc::CreateError::EmailTaken(_)) => Ok(answer()),
        Err(e) => Err(e.into_api(false)),
    }
}

/// The self-signup policy.
#[utoipa::path(get, path = "/config/partner-signup", tag = "config", security(("bearer" = [])),
    responses((status = 200, body = SignupPolicy),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn get_policy(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<SignupPolicy>> {
    auth.require_admin()?;
    Ok(Json(load_policy(&state).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyChange {
    policy: Option<String>,
    disabled: Option<bool>,
}

/// Change the self-signup policy; omitted fields keep their value.
#[utoipa::path(post, path = "/config/partner-signup", tag = "config", security(("bearer" = [])),
    request_body = PolicyChange,
    responses((status = 200, body = SignupPolicy),
        (status = 400, description = "`invalid_body`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
async fn set_policy(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(change): ApiJson<PolicyChange>,
) -> ApiResult<Json<SignupPolicy>> {
    auth.require_admin()?;
    let mut policy = load_policy(&state).await?;
    if let Some(p) = change.policy {
        policy.policy = SignupApproval::parse(&p).ok_or_else(|| {
            ApiError::invalid_field("policy", "must be \"auto_approve\" or \"require_review\"")
        })?;
    }
    if let Some(d) = change.disabled {
        policy.disabled = d;
    }
    let stored = serde_json::to_string(&policy).map_err(ApiError::internal)?;
    db::settings::set_audited(&state.db, POLICY_KEY, &stored, state.clock.now()).await?;
    Ok(Json(policy))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_policy_fails_closed() {
        let p = stored_policy(r#"{"policy":"require_review","disabled":true}"#);
        assert!(p.disabled && p.policy == SignupApproval::RequireReview);
        let p = stored_policy(r#"{"policy":"auto_approve","disabled":false}"#);
        assert!(!p.disabled && p.policy == SignupApproval::AutoApprove);
        // A policy this version does not know keeps `disabled`, and reviews new partners.
        let p = stored_policy(r#"{"policy":"invite_only","disabled":false}"#);
        assert!(!p.disabled && p.policy == SignupApproval::RequireReview);
        let p = stored_policy(r#"{"policy":"something","disabled":true}"#);
        assert!(p.disabled);
        assert!(stored_policy("not json").disabled);
    }
}
