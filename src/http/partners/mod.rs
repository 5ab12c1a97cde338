//! `/partners`: create, list (keyset pages), get and patch partners.

pub mod keys;
pub mod lifecycle;
pub mod links;
pub mod snapshot;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value, json};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db::partners::{Partner, PartnerChanges, PartnerFilter, PartnerStatus};
use crate::domain::commission::CommissionRule;
use crate::domain::cursor::Position;
use crate::domain::email::Email;
use crate::domain::ids::{PartnerId, ProgramId};
use crate::domain::partners::{GrantSource, PartnerSource};
use crate::domain::rules::RuleSet;
use crate::domain::scopes::Scope;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath, ApiQuery};
use crate::http::paging;
use crate::http::rules::{RuleBody, Strictness, parse_rules};
use crate::service::partners::{self as svc, CreatePartner, NewSnapshot};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_partner, list_partners))
        .routes(routes!(get_partner, update_partner))
}

/// A partner, as every endpoint returns it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerView {
    id: PartnerId,
    email: String,
    name: String,
    stripe_connect_account_id: Option<String>,
    /// Free-form. `metadata.network` holds the Network identity once pushed.
    #[schema(value_type = Object)]
    metadata: Value,
    program_ids: Vec<ProgramId>,
    /// `admin` or `offering`.
    campaign_grant_source: String,
    /// `invited`, `active`, `pending_review` or `revoked`.
    status: &'static str,
    created_at: Timestamp,
    updated_at: Timestamp,
    activated_at: Option<Timestamp>,
    revoked_at: Option<Timestamp>,
    revoke_reason: Option<String>,
}

/// `partner.*` and `network.partner_federated` webhooks carry this view.
impl crate::webhooks::EventData for Partner {
    fn event_data(&self, _public_url: &str) -> Value {
        serde_json::to_value(PartnerView::from(self.clone())).unwrap_or_default()
    }
}

impl From<Partner> for PartnerView {
    fn from(p: Partner) -> Self {
        let mut metadata = serde_json::from_str::<Value>(&p.metadata)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}));
        if let (Some(n), Some(m)) = (&p.network, metadata.as_object_mut()) {
            m.insert(
                "network".into(),
                json!({
                    "networkCreatorId": n.creator_id,
                    "preExisting": n.pre_existing,
                    "affiliations": n.affiliations,
                    "syncedAt": n.synced_at,
                }),
            );
        }
        let status = if p.revoked_at.is_some() {
            "revoked"
        } else if p.pending_review {
            "pending_review"
        } else if p.activated_at.is_some() {
            "active"
        } else {
            "invited"
        };
        PartnerView {
            id: p.id,
            email: p.email,
            name: p.name,
            stripe_connect_account_id: p.stripe_connect_account_id,
            metadata,
            program_ids: p.program_ids,
            campaign_grant_source: p.campaign_grant_source.as_str().to_string(),
            status,
            created_at: p.created_at,
            updated_at: p.updated_at,
            activated_at: p.activated_at,
            revoked_at: p.revoked_at,
            revoke_reason: p.revoke_reason,
        }
    }
}

/// Commission terms to snapshot: `commissionRules`, or the older single-rule fields (one rule:
/// `every`, or `first` when `recurring` is false). When both come, `commissionRules` wins.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotBody {
    commission_rules: Option<Vec<RuleBody>>,
    /// `percent` or `fixed` (legacy).
    commission_type: Option<String>,
    /// Percent (10 = 10 %) or a fixed amount in major units; string or number (legacy).
    #[schema(value_type = Option<f64>)]
    commission_value: Option<Value>,
    /// Legacy: false makes the single rule `first`.
    recurring: Option<bool>,
    /// Days before a commission matures; default the program's.
    holdback_days: Option<i64>,
    #[serde(flatten)]
    #[schema(ignore)]
    extra: Map<String, Value>,
}

impl SnapshotBody {
    /// The terms, `None` when the body names none (tolerated from the Network, where an empty
    /// snapshot means the program's live terms apply).
    pub fn validate(
        self,
        strictness: Strictness,
        errors: &mut Vec<(String, String)>,
        prefix: &str,
    ) -> Option<NewSnapshot> {
        let before = errors.len();
        if strictness == Strictness::Strict {
            if let Some(k) = self.extra.keys().next() {
                errors.push((format!("{prefix}{k}"), "is not a known field".into()));
            }
        }
        if self.holdback_days.is_some_and(|d| !(0..=3650).contains(&d)) {
            errors.push((format!("{prefix}holdbackDays"), "must be 0 to 3650".into()));
        }
        let rules = match (self.commission_rules, self.commission_type) {
            (Some(rules), _) => parse_rules(
                rules,
                strictness,
                None,
                &format!("{prefix}commissionRules"),
                errors,
            ),
            (None, Some(kind)) => match &self.commission_value {
                None => {
                    errors.push((format!("{prefix}commissionValue"), "is required".into()));
                    None
                }
                Some(value) => match CommissionRule::parse(&kind, value, 4) {
                    Ok(rate) => Some(RuleSet::single(rate, self.recurring.unwrap_or(true))),
                    Err((field, m)) => {
                        let field = if field == "type" {
                            "commissionType"
                        } else {
                            "commissionValue"
                        };
                        errors.push((format!("{prefix}{field}"), m));
                        None
                    }
                },
            },
            (None, None) if strictness == Strictness::Strict => {
                errors.push((
                    format!("{prefix}commissionRules"),
                    "is required (or commissionType and commissionValue)".into(),
                ));
                None
            }
            (None, None) => None,
        };
        if errors.len() > before {
            return None;
        }
        rules.map(|rules| NewSnapshot {
            rules,
            holdback_days: self.holdback_days,
        })
    }
}

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

pub fn clean_name(name: Option<String>, errors: &mut Vec<(String, String)>) -> String {
    match name.map(|n| n.trim().to_string()) {
        Some(n) if !n.is_empty() && n.chars().count() <= 120 => n,
        Some(_) => {
            errors.push(("name".into(), "must be 1 to 120 characters".into()));
            String::new()
        }
        None => {
            errors.push(("name".into(), "is required".into()));
            String::new()
        }
    }
}

pub fn clean_email(email: Option<&str>, errors: &mut Vec<(String, String)>) -> Option<Email> {
    match email.map(Email::parse) {
        Some(Ok(e)) => Some(e),
        Some(Err(m)) => {
            errors.push(("email".into(), m.into()));
            None
        }
        None => {
            errors.push(("email".into(), "is required".into()));
            None
        }
    }
}

fn metadata_object(
    v: Option<Value>,
    errors: &mut Vec<(String, String)>,
) -> Option<Map<String, Value>> {
    match v {
        None | Some(Value::Null) => Some(Map::new()),
        Some(Value::Object(m)) if Value::Object(m.clone()).to_string().len() <= 16 * 1024 => {
            Some(m)
        }
        Some(Value::Object(_)) => {
            errors.push(("metadata".into(), "must be at most 16 KiB of JSON".into()));
            None
        }
        Some(_) => {
            errors.push(("metadata".into(), "must be an object".into()));
            None
        }
    }
}

/// The most program ids one body may list.
pub const MAX_PROGRAM_IDS: usize = 1000;

/// `campaignIds` and `programIds` are two names for one field.
fn program_list(
    campaign_ids: Option<Vec<String>>,
    program_ids: Option<Vec<String>>,
    errors: &mut Vec<(String, String)>,
) -> Option<Vec<String>> {
    for (field, list) in [("campaignIds", &campaign_ids), ("programIds", &program_ids)] {
        let Some(list) = list else { continue };
        if list.len() > MAX_PROGRAM_IDS {
            errors.push((
                field.into(),
                format!("must list at most {MAX_PROGRAM_IDS} programs"),
            ));
            return None;
        }
        if list.iter().any(|id| id.is_empty() || id.len() > 100) {
            errors.push((field.into(), "ids must be 1 to 100 characters".into()));
            return None;
        }
    }
    match (campaign_ids, program_ids) {
        (Some(a), Some(b)) if a != b => {
            errors.push((
                "programIds".into(),
                "differs from campaignIds; send one of them".into(),
            ));
            None
        }
        (a, b) => a.or(b),
    }
}

/// Create a partner; by default emails a magic-link invite.
#[utoipa::path(post, path = "/partners", tag = "partners", security(("bearer" = [])),
    request_body = CreatePartnerBody,
    responses((status = 201, body = CreatedPartner),
        (status = 400, description = "`invalid_body` (fields named), `invalid_json`, `unknown_campaign_ids` (with `missing`)", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:write`), `forbidden`", body = ErrorBody),
        (status = 409, description = "`email_taken`", body = ErrorBody)))]
async fn create_partner(
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

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Exact match, case-insensitive.
    email: Option<String>,
    /// `invited`, `active`, `pending_review` or `revoked`.
    status: Option<String>,
    /// Partners granted this program.
    #[serde(rename = "programId")]
    program_id: Option<String>,
    /// 1–200, default 100.
    limit: Option<String>,
    /// Opaque, from a previous `nextCursor`.
    cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartnerList {
    partners: Vec<PartnerView>,
    /// Null on the last page.
    next_cursor: Option<String>,
}

/// Parses `limit` (1..=max, default `default`).
pub fn parse_limit(raw: Option<&str>, default: i64, max: i64) -> ApiResult<i64> {
    match raw {
        None => Ok(default),
        Some(s) => match s.trim().parse::<i64>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(ApiError::invalid_query(format!(
                "limit must be a whole number from 1 to {max}"
            ))),
        },
    }
}

/// List partners, newest first, with keyset pagination.
#[utoipa::path(get, path = "/partners", tag = "partners", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = PartnerList),
        (status = 400, description = "`invalid_query`, `invalid_cursor`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:read`), `forbidden`", body = ErrorBody)))]
async fn list_partners(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<Json<PartnerList>> {
    auth.require_scope(Scope::PartnersRead)?;
    let limit = parse_limit(q.limit.as_deref(), 100, 200)?;
    let after = paging::after(&state, q.cursor.as_deref())?;
    let email = q.email.map(|e| e.trim().to_lowercase());
    let status = match q.status.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(PartnerStatus::parse(s).ok_or_else(|| {
            ApiError::invalid_query("status must be invited, active, pending_review or revoked")
        })?),
    };
    let program = q.program_id.filter(|p| !p.is_empty());
    if program.as_deref().is_some_and(|p| {
        p.len() > 100
            || !p
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    }) {
        return Err(ApiError::invalid_query("programId is not a program id"));
    }
    let filter = PartnerFilter {
        email: email.as_deref(),
        status,
        program: program.as_deref(),
    };
    // One extra row tells whether there is a next page.
    let mut page = state
        .db
        .list_partners(
            after.as_ref().map(|p| (p.created_at, p.id.as_str())),
            &filter,
            limit + 1,
        )
        .await?;
    let next_cursor = paging::next_cursor(&state, &mut page, limit, |p| Position {
        created_at: p.created_at.millis(),
        id: p.id.to_string(),
    });
    Ok(Json(PartnerList {
        partners: page.into_iter().map(PartnerView::from).collect(),
        next_cursor,
    }))
}

/// Get a partner: admin, `partners:read`, or the partner itself.
#[utoipa::path(get, path = "/partners/{id}", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = PartnerView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope`, `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found` (also for another partner's id)", body = ErrorBody)))]
async fn get_partner(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<PartnerView>> {
    let id = PartnerId::from_string(id);
    auth.require_partner_access(&id, Scope::PartnersRead)?;
    Ok(Json(svc::get_existing(&state, &id).await?.into()))
}

fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchPartnerBody {
    name: Option<String>,
    #[schema(value_type = Option<Object>)]
    metadata: Option<Value>,
    /// A string, or null to clear.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    stripe_connect_account_id: Option<Option<String>>,
    program_ids: Option<Vec<String>>,
    campaign_ids: Option<Vec<String>>,
}

/// Update a partner's name, metadata, Stripe account or programs.
#[utoipa::path(patch, path = "/partners/{id}", tag = "partners", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = PatchPartnerBody,
    responses((status = 200, body = PartnerView),
        (status = 400, description = "`invalid_body`, `unknown_campaign_ids`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden_scope` (needs `partners:write`), `forbidden`", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
async fn update_partner(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<PatchPartnerBody>,
) -> ApiResult<Json<PartnerView>> {
    auth.require_scope(Scope::PartnersWrite)?;
    let id = PartnerId::from_string(id);
    let mut errors = Vec::new();
    let name = body.name.map(|n| clean_name(Some(n), &mut errors));
    let metadata = match body.metadata {
        None => None,
        Some(v) => metadata_object(Some(v), &mut errors).map(|m| Value::Object(m).to_string()),
    };
    // Where payouts go: only an admin may set it (the federation key holds partners:write).
    if body.stripe_connect_account_id.is_some() {
        auth.require_admin()
            .map_err(|_| ApiError::forbidden("Only an admin may set stripeConnectAccountId."))?;
    }
    let stripe = body.stripe_connect_account_id.map(|s| {
        let s = s.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        if s.as_ref().is_some_and(|s| s.len() > 255) {
            errors.push((
                "stripeConnectAccountId".into(),
                "must be at most 255 characters".into(),
            ));
        }
        s
    });
    let programs = program_list(body.campaign_ids, body.program_ids, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::invalid_body(errors));
    }
    let program_ids = match programs {
        Some(list) => Some(svc::resolve_programs(&state.db, Some(list)).await?),
        None => None,
    };
    let changes = PartnerChanges {
        name,
        metadata,
        stripe_connect_account_id: stripe,
        program_ids,
    };
    if !state
        .db
        .update_partner(&id, &changes, state.clock.now())
        .await?
    {
        return Err(ApiError::not_found("No such partner."));
    }
    Ok(Json(svc::get_existing(&state, &id).await?.into()))
}
