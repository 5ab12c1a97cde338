//! `POST /partners`: create a partner.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::{SnapshotBody, clean_email, clean_name, metadata_object, program_list};
use crate::domain::partners::{GrantSource, PartnerSource};
use crate::domain::scopes::Scope;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::ApiJson;
use crate::http::rules::Strictness;
use crate::service::partners::{self as svc, CreatePartner};
use crate::state::AppState;
use crate::views::PartnerView;

/// Tolerant: the Network sends this body and adds fields without warning; unknown keys are
/// ignored.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatePartnerBody {
    /// Required; lowercased on storage.
    email: Option<String>,
    /// Required, 1–120 characters.
    name: Option<String>,
    /// Default true. False: created active, no email.
    send_invite: Option<bool>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// Programs granted. Omitted = all current programs; `[]` = none.
    campaign_ids: Option<Vec<String>>,
    /// Same as `campaignIds`.
    program_ids: Option<Vec<String>>,
    /// `admin` (default) or `offering`.
    campaign_grant_source: Option<String>,
    commission_snapshot: Option<SnapshotBody>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedPartner {
    #[serde(flatten)]
    partner: PartnerView,
    /// Whether an invite email was sent.
    invited: bool,
}

/// Create a partner; by default emails a magic-link invite.
#[utoipa::path(post, path = "/partners", tag = "partners", security(("bearer" = [])),
    request_body = CreatePartnerBody,
    responses((status = 201, body = CreatedPartner),
        (status = 400, description = "`invalid_body` (fields named), `invalid_json`, `unknown_campaign_ids` (with `missing`)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:write`), `forbidden`", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody)))]
pub(super) async fn create_partner(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreatePartnerBody>,
) -> ApiResult<(StatusCode, Json<CreatedPartner>)> {
    auth.require_scope(Scope::PartnersWrite)?;
    let mut errors = Vec::new();
    let email = clean_email(body.email.as_deref(), &mut errors);
    let name = clean_name(body.name, &mut errors);
    let metadata = metadata_object(body.metadata, &mut errors);
    let programs = program_list(body.campaign_ids, body.program_ids, &mut errors);
    let grant_source = match body.campaign_grant_source.as_deref() {
        None => Some(GrantSource::Admin),
        Some(s) => GrantSource::parse(s),
    };
    if grant_source.is_none() {
        errors.push((
            "campaignGrantSource".into(),
            "must be \"admin\" or \"offering\"".into(),
        ));
    }
    let snapshot = body
        .commission_snapshot
        .and_then(|s| s.validate(Strictness::Tolerant, &mut errors, "commissionSnapshot."));
    let (Some(email), Some(metadata), Some(grant_source), true) =
        (email, metadata, grant_source, errors.is_empty())
    else {
        return Err(ApiError::invalid_body(errors));
    };
    let send_invite = body.send_invite.unwrap_or(true);
    let source = match metadata.get("source").and_then(Value::as_str) {
        Some(s) if PartnerSource::parse(s) == Some(PartnerSource::Network) => {
            PartnerSource::Network
        }
        _ => PartnerSource::AdminInvite,
    };
    let partner = svc::create(
        &state,
        CreatePartner {
            email,
            name,
            send_invite,
            metadata,
            program_ids: programs,
            campaign_grant_source: grant_source,
            snapshot,
            source,
            profile: None,
            pending_review: false,
        },
    )
    .await
    // Only a caller that may read partners learns which partner holds the email.
    .map_err(|e| e.into_api(auth.0.has_scope(Scope::PartnersRead)))?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedPartner {
            partner: partner.into(),
            invited: send_invite,
        }),
    ))
}
