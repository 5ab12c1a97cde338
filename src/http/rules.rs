//! Commission rules on the wire: the body shape programs and snapshots accept, and the view
//! every answer (and the Network offering) shows.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::commission::CommissionRule;
use crate::domain::money::Currency;
use crate::domain::rules::{
    MAX_EVENT_TYPE_CHARS, MAX_RECURRING_MONTHS, MAX_RULES, Rule, RuleSet, Trigger,
};
pub use crate::domain::rules::{RuleView, rule_views};

/// One rule: `{trigger, eventType?, type, value, currency?, recurring?, recurringMonths?}`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleBody {
    /// `every`, `first` or `subsequent`.
    #[schema(value_type = Trigger)]
    trigger: Option<String>,
    /// Only events of this type (1–80 characters); absent: every type.
    event_type: Option<String>,
    /// `percent` or `fixed`.
    #[serde(rename = "type")]
    #[schema(value_type = String, example = "percent")]
    kind: Option<String>,
    /// Percent (10 = 10 %, at most 100) or a fixed amount in major units; ≥ 0.
    #[schema(value_type = f64, example = 10)]
    value: Option<Value>,
    /// A fixed rule's currency (ISO 4217); default the program's.
    currency: Option<String>,
    /// `false` limits the rule to the customer's first commission-earning event.
    recurring: Option<bool>,
    /// The rule ends this many months (1–600) after the customer's first commission.
    recurring_months: Option<i64>,
    /// Keys we do not know: refused where the caller is an admin (a typo would drop terms),
    /// ignored where the Network sends them.
    #[serde(flatten)]
    #[schema(ignore)]
    extra: Map<String, Value>,
}

/// How strictly to read a body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Strictness {
    /// Admin-only bodies: an unknown key is a 400.
    Strict,
    /// Bodies the Network sends: unknown keys are ignored.
    Tolerant,
}

/// Reads a rule set, collecting field errors under `prefix` (e.g. `commissionRules`).
/// `fixed_currency` is the currency a fixed rule without its own pays in, when known (it bounds
/// the fixed amount's decimals).
pub fn parse_rules(
    bodies: Vec<RuleBody>,
    strictness: Strictness,
    fixed_currency: Option<&Currency>,
    prefix: &str,
    errors: &mut Vec<(String, String)>,
) -> Option<RuleSet> {
    if bodies.is_empty() || bodies.len() > MAX_RULES {
        errors.push((prefix.into(), format!("must hold 1 to {MAX_RULES} rules")));
        return None;
    }
    let before = errors.len();
    let mut rules = Vec::with_capacity(bodies.len());
    for (i, b) in bodies.into_iter().enumerate() {
        let at = |f: &str| format!("{prefix}[{i}].{f}");
        if strictness == Strictness::Strict {
            if let Some(k) = b.extra.keys().next() {
                errors.push((at(k), "is not a known field".into()));
            }
        }
        let trigger = match b.trigger.as_deref().map(Trigger::parse) {
            Some(Some(t)) => Some(t),
            Some(None) => {
                errors.push((at("trigger"), "must be every, first or subsequent".into()));
                None
            }
            None => {
                errors.push((at("trigger"), "is required".into()));
                None
            }
        };
        let event_type = match b.event_type.map(|t| t.trim().to_string()) {
            Some(t)
                if t.is_empty()
                    || t.chars().count() > MAX_EVENT_TYPE_CHARS
                    || t.chars().any(char::is_control) =>
            {
                errors.push((
                    at("eventType"),
                    format!("must be 1 to {MAX_EVENT_TYPE_CHARS} printable characters"),
                ));
                None
            }
            t => t,
        };
        let currency = match b.currency.as_deref().map(Currency::parse) {
            Some(Err(m)) => {
                errors.push((at("currency"), m.into()));
                None
            }
            Some(Ok(c)) => Some(c),
            None => None,
        };
        let digits = currency
            .as_ref()
            .or(fixed_currency)
            .map_or(4, Currency::minor_digits);
        let rate = match (&b.kind, &b.value) {
            (Some(kind), Some(value)) => match CommissionRule::parse(kind, value, digits) {
                Ok(r) => Some(r),
                Err((field, m)) => {
                    errors.push((at(field), m));
                    None
                }
            },
            (None, _) => {
                errors.push((at("type"), "is required".into()));
                None
            }
            (_, None) => {
                errors.push((at("value"), "is required".into()));
                None
            }
        };
        let recurring_months = match b.recurring_months {
            Some(n) if !(1..=i64::from(MAX_RECURRING_MONTHS)).contains(&n) => {
                errors.push((
                    at("recurringMonths"),
                    format!("must be a whole number from 1 to {MAX_RECURRING_MONTHS}"),
                ));
                None
            }
            n => n.map(|n| n as u32),
        };
        if let (Some(trigger), Some(rate)) = (trigger, rate) {
            rules.push(Rule {
                trigger,
                event_type,
                rate,
                currency,
                recurring: b.recurring,
                recurring_months,
            });
        }
    }
    if errors.len() > before {
        return None;
    }
    RuleSet::new(rules).ok()
}
