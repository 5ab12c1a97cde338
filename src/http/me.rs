//! `/me/…`: what the calling partner sees of the brand (partner credentials only).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::db;
use crate::domain::ids::{PartnerId, ProgramId};
use crate::domain::rules::{RuleView, rule_views};
use crate::domain::terms::describe;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::auth::Auth;
use crate::http::payouts::{SettingsView, settings_view};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_programs))
        .routes(routes!(my_payouts_setup))
}

/// The calling partner's id, or 403 `partner_only`.
pub fn partner_only(auth: &Auth) -> ApiResult<PartnerId> {
    auth.0.partner_id().cloned().ok_or_else(|| {
        ApiError::new(
            StatusCode::FORBIDDEN,
            "partner_only",
            "This endpoint acts for a partner: sign in as one (or use a partner key).",
        )
    })
}

/// A granted program as its partner sees it: the terms that price the partner's commissions
/// (its snapshot when it has one, else the program's), also in words.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyProgram {
    id: ProgramId,
    name: String,
    destination_url: String,
    currency: String,
    commission_rules: Vec<RuleView>,
    holdback_days: i64,
    attribution_window_days: i64,
    /// `program`, or `snapshot` when the partner has terms of its own.
    terms_source: &'static str,
    /// The terms in words, e.g. "30 % of the first sale, then 10 % of each later sale for 12
    /// months; paid after a 14-day holdback".
    terms: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MyPrograms {
    programs: Vec<MyProgram>,
}

/// The programs granted to the calling partner, with their commission terms.
#[utoipa::path(get, path = "/me/programs", tag = "partners", security(("bearer" = [])),
    responses((status = 200, body = MyPrograms),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`partner_only`", body = ErrorBody)))]
async fn my_programs(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<MyPrograms>> {
    let me = partner_only(&auth)?;
    let partner = crate::service::partners::get_existing(&state, &me).await?;
    let snapshot = db::partners::get_snapshot(state.db.pool(), &me).await?;
    let mut programs = Vec::new();
    for id in &partner.program_ids {
        let Some(p) = db::programs::get(state.db.pool(), id.as_str()).await? else {
            continue;
        };
        let (rules, holdback, source) = match &snapshot {
            Some(s) => (
                s.rules.clone(),
                s.holdback_days.unwrap_or(p.holdback_days),
                "snapshot",
            ),
            None => (p.rules.clone(), p.holdback_days, "program"),
        };
        programs.push(MyProgram {
            terms: describe(&rules, &p.currency, holdback),
            commission_rules: rule_views(&rules),
            id: p.id,
            name: p.name,
            destination_url: p.destination_url,
            currency: p.currency.as_str().to_string(),
            holdback_days: holdback,
            attribution_window_days: p.attribution_window_days,
            terms_source: source,
        });
    }
    Ok(Json(MyPrograms { programs }))
}

/// How and when the calling partner gets paid.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutSetup {
    /// The schedule, minimums and the next scheduled run (as `GET /config/payouts`).
    #[serde(flatten)]
    settings: SettingsView,
    /// Stripe is configured on this instance: payouts go by Stripe Connect.
    stripe_enabled: bool,
    /// The partner's connected account, once onboarding has started.
    stripe_account_id: Option<String>,
    stripe_details_submitted: bool,
    stripe_payouts_enabled: bool,
    /// A payout method is set up: Stripe can pay the account, or (Stripe off) payouts are
    /// manual to `payoutEmail`.
    method_ready: bool,
    /// Manual payouts go to this address.
    payout_email: String,
}

/// The calling partner's payout schedule and payout method.
#[utoipa::path(get, path = "/me/payout-setup", tag = "partners", security(("bearer" = [])),
    responses((status = 200, body = PayoutSetup),
        (status = 401, description = "`unauthorized`", body = ErrorBody),
        (status = 403, description = "`partner_only`", body = ErrorBody)))]
async fn my_payouts_setup(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<PayoutSetup>> {
    let me = partner_only(&auth)?;
    let partner = crate::service::partners::get_existing(&state, &me).await?;
    let settings = crate::service::payouts::settings(&state).await?;
    let stripe_enabled = state.stripe.is_some();
    Ok(Json(PayoutSetup {
        settings: settings_view(&state, &settings).await?,
        method_ready: if stripe_enabled {
            partner.stripe_payouts_enabled
        } else {
            true
        },
        stripe_enabled,
        stripe_account_id: partner.stripe_connect_account_id,
        stripe_details_submitted: partner.stripe_details_submitted,
        stripe_payouts_enabled: partner.stripe_payouts_enabled,
        payout_email: partner.email,
    }))
}
