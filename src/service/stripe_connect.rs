//! Stripe Connect onboarding of a partner: an Express account made once (its creation carries
//! an idempotency key derived from the partner id, so a retry after a lost answer never makes a
//! second account), then an account link to Stripe's onboarding; and the account's status read
//! back from Stripe and kept on the partner.

use axum::http::StatusCode;

use crate::db;
use crate::db::stripe::ConnectStatus;
use crate::domain::ids::PartnerId;
use crate::domain::time::Timestamp;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stripe::{StripeClient, StripeError};

/// The onboarding link handed to the partner.
pub struct Started {
    pub url: String,
    pub expires_at: Timestamp,
    pub account_id: String,
}

/// The partner's account as Stripe reports it.
pub struct Status {
    pub account_id: Option<String>,
    pub details_submitted: bool,
    pub payouts_enabled: bool,
}

/// The idempotency key of a partner's account creation.
pub fn account_idempotency_key(partner: &PartnerId) -> String {
    format!("openpartner_connect_account_{partner}")
}

fn client(state: &AppState) -> ApiResult<&StripeClient> {
    state.stripe.as_ref().ok_or_else(|| {
        ApiError::unavailable(
            "stripe_not_configured",
            "Stripe is not configured on this instance (STRIPE_SECRET_KEY).",
        )
    })
}

/// 502 `stripe_call_failed`, with Stripe's code and message in the detail.
pub fn call_failed(e: StripeError) -> ApiError {
    let (code, status) = match &e {
        StripeError::Refused { code, status, .. } => (code.clone(), Some(*status)),
        StripeError::Transient(_) => (String::new(), None),
    };
    ApiError::new(
        StatusCode::BAD_GATEWAY,
        "stripe_call_failed",
        format!("Stripe: {}", e.reason()),
    )
    .with("stripeCode", (!code.is_empty()).then_some(code))
    .with("stripeStatus", status)
}

/// Creates the partner's Express account if it has none, then an onboarding link.
pub async fn start(
    state: &AppState,
    partner: &PartnerId,
    return_url: &str,
    refresh_url: &str,
) -> ApiResult<Started> {
    let stripe = client(state)?;
    let p = crate::service::partners::get_existing(state, partner).await?;
    if p.revoked_at.is_some() {
        return Err(ApiError::conflict(
            "partner_revoked",
            "This partner is revoked; reinstate it first.",
        ));
    }
    let account_id = match p.stripe_connect_account_id {
        Some(account) => account,
        None => {
            let key = account_idempotency_key(partner);
            let account = stripe
                .create_account(&p.email, partner.as_str(), &key)
                .await
                .map_err(call_failed)?;
            // Two starts at once get the same account (the key); whichever stores first wins.
            db::stripe::set_account_if_none(&state.db, partner, &account.id, state.clock.now())
                .await?
                .ok_or_else(|| ApiError::not_found("No such partner."))?
        }
    };
    let link = stripe
        .create_account_link(&account_id, refresh_url, return_url)
        .await
        .map_err(call_failed)?;
    Ok(Started {
        url: link.url,
        expires_at: Timestamp::from_millis(link.expires_at.saturating_mul(1000)),
        account_id,
    })
}

/// Reads the partner's account from Stripe and records what it says.
pub async fn status(state: &AppState, partner: &PartnerId) -> ApiResult<Status> {
    let stripe = client(state)?;
    let stored: ConnectStatus = db::stripe::connect_status(state.db.pool(), partner)
        .await?
        .ok_or_else(|| ApiError::not_found("No such partner."))?;
    let Some(account_id) = stored.account_id else {
        return Ok(Status {
            account_id: None,
            details_submitted: false,
            payouts_enabled: false,
        });
    };
    let account = stripe.get_account(&account_id).await.map_err(call_failed)?;
    db::stripe::record_connect_status(
        &state.db,
        &account_id,
        Some(partner),
        account.details_submitted,
        account.payouts_enabled,
        state.clock.now(),
    )
    .await?;
    Ok(Status {
        account_id: Some(account_id),
        details_submitted: account.details_submitted,
        payouts_enabled: account.payouts_enabled,
    })
}
