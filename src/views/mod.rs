//! Views that outlive the request: the answer of `POST /events`, stored with the event,
//! replayed for a repeat and sent as the `conversion.created` payload; the commission view,
//! which that answer embeds and `commission.*` webhooks carry; and the partner, link and payout
//! views that `partner.*`, `link.created` and `payout.*` webhooks carry. The services that store
//! and send them build them, so they sit below both `service` and `http`; views only an HTTP
//! answer shows stay in `http/`.

mod link;
mod partner;
mod payout;

pub use link::LinkView;
pub use partner::PartnerView;
pub use payout::{PayoutView, payout_view};

use serde::Serialize;

use crate::db::commissions::Commission;
use crate::domain::ids::PartnerId;
use crate::domain::rules::Trigger;
use crate::domain::time::Timestamp;

/// The states of a commission (the API document's enum; `db::commissions::Status` is the type).
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommissionStatus {
    Accrued,
    Approved,
    Paid,
    Reversed,
    OnHold,
}

/// A commission, as every endpoint shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CommissionView {
    id: String,
    partner_id: PartnerId,
    program_id: String,
    event_id: String,
    /// Decimal string in major units (`"12.50"`).
    amount: String,
    currency: String,
    #[schema(value_type = CommissionStatus)]
    /// `accrued`, `approved`, `paid`, `reversed` or `on_hold` (a Stripe dispute is open: not
    /// approvable, not payable).
    status: &'static str,
    /// How much reversals have taken back (partial refunds), in major units; `amount` when
    /// reversed in full.
    reversed_amount: String,
    /// `snapshot` or `program`: whose terms priced it.
    rule_source: String,
    /// The trigger of the rule that priced it; null on commissions from before rule sets.
    trigger: Option<Trigger>,
    accrued_at: Timestamp,
    /// The end of the holdback: approval is refused before it unless forced.
    mature_at: Timestamp,
    approved_at: Option<Timestamp>,
    /// True when an admin approved it before `matureAt` (`force`).
    approval_forced: bool,
    paid_at: Option<Timestamp>,
}

/// `commission.*` webhooks carry this view.
impl crate::webhooks::EventData for Commission {
    fn event_data(&self, _public_url: &str) -> serde_json::Value {
        serde_json::to_value(CommissionView::from(self)).unwrap_or_default()
    }
}

impl From<&Commission> for CommissionView {
    fn from(c: &Commission) -> Self {
        CommissionView {
            id: c.id.to_string(),
            partner_id: c.partner_id.clone(),
            program_id: c.program_id.clone(),
            event_id: c.event_id.to_string(),
            amount: c.currency.format_minor(c.amount_minor),
            reversed_amount: c.currency.format_minor(c.reversed_minor),
            currency: c.currency.as_str().to_string(),
            status: c.status.as_str(),
            rule_source: c.rule_source.clone(),
            trigger: c.trigger,
            accrued_at: c.accrued_at,
            mature_at: c.mature_at,
            approved_at: c.approved_at,
            approval_forced: c.approval_forced,
            paid_at: c.paid_at,
        }
    }
}

/// The answer to `POST /events`, stored with the event and replayed for a repeat.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventAnswer<'a> {
    pub id: &'a str,
    pub external_event_id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    /// Decimal string in major units.
    pub value: String,
    pub currency: &'a str,
    pub ts: Timestamp,
    pub click_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub attributed: bool,
    /// Why no commission accrued: `no_click`, `no_program`, `outside_attribution_window`,
    /// `partner_revoked`, `click_flagged`, `program_not_granted`, `no_matching_rule`,
    /// `not_recurring`, `recurring_period_ended`, `currency_mismatch`, `zero_amount`.
    pub reason: Option<&'static str>,
    pub partner_id: Option<&'a PartnerId>,
    pub program_id: Option<&'a str>,
    pub commission: Option<CommissionView>,
}
