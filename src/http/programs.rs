//! `/programs` (alias `/campaigns`): the brand's programs and their live commission rules.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::db::programs::Program;
use crate::domain::commission::{CommissionRule, CommissionType};
use crate::domain::ids::ProgramId;
use crate::domain::money::Currency;
use crate::domain::rules::RuleSet;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::json::{ApiJson, ApiPath};
use crate::http::rules::{RuleBody, RuleView, Strictness, parse_rules, rule_views};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_programs, create_program))
        .routes(routes!(get_program, update_program))
}

/// `/campaigns…`: the same handlers under the older name (not repeated in the document).
pub fn aliases() -> Router<AppState> {
    Router::new()
        .route("/campaigns", get(list_programs).post(create_program))
        .route("/campaigns/{id}", get(get_program).patch(update_program))
}

#[derive(Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CommissionBody {
    /// `percent` or `fixed`.
    #[serde(rename = "type")]
    kind: String,
    /// Percent: a decimal percentage (10 = 10 %, up to 4 decimals). Fixed: an amount in major
    /// units (`"5.00"`). A JSON string or number.
    #[schema(value_type = String, example = "10")]
    value: Value,
    /// ISO 4217, default `USD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProgramBody {
    name: Option<String>,
    destination_url: Option<String>,
    /// The live terms: 1–10 rules. Wins over `commission` when both are sent.
    commission_rules: Option<Vec<RuleBody>>,
    /// The older single rule (one `every` rule).
    commission: Option<CommissionBody>,
    /// ISO 4217: the program's currency (fixed rules without their own pay in it). Default
    /// `commission.currency`, else `USD`.
    currency: Option<String>,
    holdback_days: Option<i64>,
    /// Default 60.
    attribution_window_days: Option<i64>,
    /// Default false. Requires `marketplaceDescription`.
    share_on_network: Option<bool>,
    /// Default false: partners who sign themselves up are granted the programs open to it.
    open_to_signup: Option<bool>,
    /// Default true: a daily job approves commissions once they mature (holdback over).
    auto_approve: Option<bool>,
    marketplace_description: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgramView {
    id: ProgramId,
    name: String,
    destination_url: String,
    commission_rules: Vec<RuleView>,
    /// The legacy mirror of the first `every` rule (else the first rule).
    commission: CommissionBody,
    currency: String,
    holdback_days: i64,
    attribution_window_days: i64,
    share_on_network: bool,
    open_to_signup: bool,
    auto_approve: bool,
    marketplace_description: Option<String>,
    network_offering_id: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProgramList {
    programs: Vec<ProgramView>,
}

impl From<Program> for ProgramView {
    fn from(p: Program) -> Self {
        let legacy = p.rules.legacy();
        ProgramView {
            commission_rules: rule_views(&p.rules),
            commission: CommissionBody {
                kind: legacy.rate.kind.as_str().to_string(),
                value: Value::String(
                    legacy
                        .rate
                        .display_value(Some(legacy.currency.unwrap_or(&p.currency))),
                ),
                currency: Some(legacy.currency.unwrap_or(&p.currency).as_str().to_string()),
            },
            currency: p.currency.as_str().to_string(),
            id: p.id,
            name: p.name,
            destination_url: p.destination_url,
            holdback_days: p.holdback_days,
            attribution_window_days: p.attribution_window_days,
            share_on_network: p.share_on_network,
            open_to_signup: p.open_to_signup,
            auto_approve: p.auto_approve,
            marketplace_description: p.marketplace_description,
            network_offering_id: p.network_offering_id,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

/// An absolute http(s) URL with a host.
pub fn valid_destination(raw: &str) -> Result<String, &'static str> {
    match url::Url::parse(raw.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
            Ok(u.to_string())
        }
        _ => Err("must be an absolute http(s) URL"),
    }
}

/// Applies `body` over `base` (all fields for a create), collecting every field error.
fn apply(mut p: Program, body: ProgramBody, creating: bool) -> ApiResult<Program> {
    let mut errors: Vec<(String, String)> = Vec::new();
    let err = |errors: &mut Vec<(String, String)>, f: &str, m: &str| {
        errors.push((f.to_string(), m.to_string()))
    };
    match body.name.map(|n| n.trim().to_string()) {
        Some(n) if n.is_empty() || n.chars().count() > 120 => {
            err(&mut errors, "name", "must be 1 to 120 characters")
        }
        Some(n) => p.name = n,
        None if creating => err(&mut errors, "name", "is required"),
        None => {}
    }
    match body.destination_url {
        Some(u) => match valid_destination(&u) {
            Ok(u) => p.destination_url = u,
            Err(m) => err(&mut errors, "destinationUrl", m),
        },
        None if creating => err(&mut errors, "destinationUrl", "is required"),
        None => {}
    }
    // The currency: explicit, else the legacy rule's, else kept (or USD on a create).
    let currency_raw = match body.currency {
        Some(c) => Some(("currency", c)),
        None => body
            .commission
            .as_ref()
            .and_then(|c| c.currency.clone())
            .map(|c| ("commission.currency", c)),
    };
    match currency_raw.map(|(field, c)| (field, Currency::parse(&c))) {
        Some((_, Ok(c))) => p.currency = c,
        Some((field, Err(m))) => err(&mut errors, field, m),
        None => {}
    }
    match (body.commission_rules, body.commission) {
        (Some(rules), _) => {
            if let Some(rules) = parse_rules(
                rules,
                Strictness::Strict,
                Some(&p.currency),
                "commissionRules",
                &mut errors,
            ) {
                p.rules = rules;
            }
        }
        (None, Some(c)) => {
            match CommissionRule::parse(&c.kind, &c.value, p.currency.minor_digits()) {
                Ok(rule) => p.rules = RuleSet::single(rule, true),
                Err((field, m)) => errors.push((format!("commission.{field}"), m)),
            }
        }
        (None, None) if creating => {
            err(
                &mut errors,
                "commissionRules",
                "is required (or commission)",
            );
            err(
                &mut errors,
                "commission",
                "is required (or commissionRules)",
            );
        }
        (None, None) => {}
    }
    if let Some(d) = body.holdback_days {
        if (0..=3650).contains(&d) {
            p.holdback_days = d;
        } else {
            err(&mut errors, "holdbackDays", "must be 0 to 3650");
        }
    }
    if let Some(d) = body.attribution_window_days {
        if (1..=3650).contains(&d) {
            p.attribution_window_days = d;
        } else {
            err(&mut errors, "attributionWindowDays", "must be 1 to 3650");
        }
    }
    if let Some(desc) = body.marketplace_description {
        let desc = desc.trim().to_string();
        if desc.chars().count() > 2000 {
            err(
                &mut errors,
                "marketplaceDescription",
                "must be at most 2000 characters",
            );
        }
        p.marketplace_description = Some(desc).filter(|d| !d.is_empty());
    }
    if let Some(share) = body.share_on_network {
        p.share_on_network = share;
    }
    if let Some(open) = body.open_to_signup {
        p.open_to_signup = open;
    }
    if let Some(auto) = body.auto_approve {
        p.auto_approve = auto;
    }
    if p.share_on_network && p.marketplace_description.is_none() {
        err(
            &mut errors,
            "marketplaceDescription",
            "is required when shareOnNetwork is true",
        );
    }
    if errors.is_empty() {
        Ok(p)
    } else {
        Err(ApiError::invalid_body(errors))
    }
}

/// Queues the program's offering for the Network and sends it in the background; a failure is
/// retried by the jobs and never fails the save.
async fn publish(state: &AppState, program: &Program) -> ApiResult<()> {
    db::programs::mark_offering_dirty(state.db.pool(), program.id.as_str()).await?;
    crate::network::offerings::sync_in_background(state);
    Ok(())
}

/// List programs.
#[utoipa::path(get, path = "/programs", tag = "programs", security(("bearer" = [])),
    responses((status = 200, body = ProgramList),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
pub async fn list_programs(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<ProgramList>> {
    auth.require_admin()?;
    let programs = db::programs::list(state.db.pool()).await?;
    Ok(Json(ProgramList {
        programs: programs.into_iter().map(ProgramView::from).collect(),
    }))
}

/// Create a program. Also at `POST /campaigns`.
#[utoipa::path(post, path = "/programs", tag = "programs", security(("bearer" = [])),
    request_body = ProgramBody,
    responses((status = 201, body = ProgramView),
        (status = 400, description = "`invalid_body` (fields named), `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody)))]
pub async fn create_program(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<ProgramBody>,
) -> ApiResult<(StatusCode, Json<ProgramView>)> {
    auth.require_admin()?;
    let now = state.clock.now();
    let blank = Program {
        id: ProgramId::generate(),
        name: String::new(),
        destination_url: String::new(),
        rules: RuleSet::single(
            CommissionRule {
                kind: CommissionType::Percent,
                value: crate::domain::money::Dec4::from_scaled(0),
            },
            true,
        ),
        currency: Currency::usd(),
        holdback_days: 0,
        attribution_window_days: 60,
        share_on_network: false,
        open_to_signup: false,
        auto_approve: true,
        marketplace_description: None,
        network_offering_id: None,
        created_at: now,
        updated_at: now,
    };
    let program = apply(blank, body, true)?;
    db::programs::insert(&state.db, &program).await?;
    publish(&state, &program).await?;
    Ok((StatusCode::CREATED, Json(program.into())))
}

/// Get a program.
#[utoipa::path(get, path = "/programs/{id}", tag = "programs", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = ProgramView),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn get_program(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ProgramView>> {
    auth.require_admin()?;
    let program = db::programs::get(state.db.pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such program."))?;
    Ok(Json(program.into()))
}

/// Update a program. Fields are those of create, each optional. Changing the commission rule
/// changes terms for partners without a snapshot only.
#[utoipa::path(patch, path = "/programs/{id}", tag = "programs", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ProgramBody,
    responses((status = 200, body = ProgramView),
        (status = 400, description = "`invalid_body`, `invalid_json`", body = ErrorBody),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`forbidden`: admin only", body = ErrorBody),
        (status = 404, description = "`not_found`", body = ErrorBody)))]
pub async fn update_program(
    State(state): State<AppState>,
    auth: Auth,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ProgramBody>,
) -> ApiResult<Json<ProgramView>> {
    auth.require_admin()?;
    let existing = db::programs::get(state.db.pool(), &id)
        .await?
        .ok_or_else(|| ApiError::not_found("No such program."))?;
    let mut program = apply(existing, body, false)?;
    program.updated_at = state.clock.now();
    db::programs::update(&state.db, &program).await?;
    // Destinations and attribution windows live in the redirect's cache.
    state.link_cache.clear();
    publish(&state, &program).await?;
    Ok(Json(program.into()))
}
