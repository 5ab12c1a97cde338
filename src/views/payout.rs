//! The payout as every endpoint (and every `payout.*` webhook) shows it.

use serde::Serialize;
use serde_json::Value;

use crate::db::payouts::{Payout, PayoutWithItems};
use crate::domain::ids::PartnerId;
use crate::domain::payouts::{PayoutMethod, PayoutStatus};
use crate::domain::time::Timestamp;

/// A payout as every endpoint shows it. Amounts are decimal strings in major units.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayoutView {
    id: String,
    partner_id: PartnerId,
    /// Net: its commissions minus the clawbacks it nets.
    amount: String,
    /// The commissions' total.
    gross: String,
    /// Clawbacks netted.
    clawback: String,
    currency: String,
    method: PayoutMethod,
    status: PayoutStatus,
    /// The commissions it holds (or held, once failed or canceled).
    commission_ids: Vec<String>,
    period_start: Option<Timestamp>,
    period_end: Option<Timestamp>,
    created_at: Timestamp,
    paid_at: Option<Timestamp>,
    failure_reason: Option<String>,
    stripe_transfer_id: Option<String>,
    reference: Option<String>,
}

/// The view of `p` holding `commission_ids`.
pub fn payout_view(p: Payout, commission_ids: Vec<String>) -> PayoutView {
    PayoutView {
        amount: p.currency.format_minor(p.amount_minor),
        gross: p.currency.format_minor(p.gross_minor),
        clawback: p.currency.format_minor(p.clawback_minor),
        id: p.id,
        partner_id: p.partner_id,
        currency: p.currency.as_str().to_string(),
        method: p.method,
        status: p.status,
        commission_ids,
        period_start: p.period_start,
        period_end: p.period_end,
        created_at: p.created_at,
        paid_at: p.paid_at,
        failure_reason: p.failure_reason,
        stripe_transfer_id: p.stripe_transfer_id,
        reference: p.reference,
    }
}

impl crate::webhooks::EventData for PayoutWithItems {
    fn event_data(&self, _public_url: &str) -> Value {
        serde_json::to_value(payout_view(
            self.payout.clone(),
            self.commission_ids.clone(),
        ))
        .unwrap_or(Value::Null)
    }
}
