//! Compound commission rules, the Network's current shape of commission terms: 1–10 rules, each
//! `{trigger: every|first|subsequent, eventType?, type: percent|fixed, value, currency?,
//! recurring?, recurringMonths?}`. A program's live terms and a partner's snapshot are both a
//! rule set; the older single-rule fields are one rule (`every`, or `first` when not recurring).
//!
//! Pricing one event picks exactly one rule, the most specific that applies:
//! - a rule applies when its `eventType` is absent or equals the event's type;
//! - `first` applies to the partner's first commission-earning event for the customer in the
//!   program, `subsequent` to every later one, `every` to all; `recurring: false` limits a rule
//!   to that first event;
//! - `recurringMonths: N` ends a rule N calendar months after the customer's first
//!   commission-earning event with the partner;
//! - a fixed rule pays in its own currency (its `currency`, else the program's), so it applies
//!   only to events in that currency; a percent rule pays in the event's currency;
//! - among the rules left, `first`/`subsequent` beat `every`, then an `eventType` match beats
//!   none; on a tie the earlier rule wins.

use serde::{Deserialize, Serialize};

use super::commission::{CommissionRule, CommissionType};
use super::money::{Currency, Dec4, ExactNumber};
use super::time::Timestamp;

pub const MAX_RULES: usize = 10;
pub const MAX_EVENT_TYPE_CHARS: usize = 80;
pub const MAX_RECURRING_MONTHS: u32 = 600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Every,
    First,
    Subsequent,
}

impl Trigger {
    pub fn parse(s: &str) -> Option<Trigger> {
        match s {
            "every" => Some(Trigger::Every),
            "first" => Some(Trigger::First),
            "subsequent" => Some(Trigger::Subsequent),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Every => "every",
            Trigger::First => "first",
            Trigger::Subsequent => "subsequent",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub trigger: Trigger,
    pub event_type: Option<String>,
    pub rate: CommissionRule,
    /// For a fixed rule, the currency it pays in (else the program's).
    pub currency: Option<Currency>,
    pub recurring: Option<bool>,
    pub recurring_months: Option<u32>,
}

impl Rule {
    /// The trigger after `recurring: false` (which limits a rule to the first event).
    fn effective_trigger(&self) -> Trigger {
        if self.recurring == Some(false) && self.trigger == Trigger::Every {
            Trigger::First
        } else {
            self.trigger
        }
    }

    fn applies_at(&self, first: bool) -> bool {
        match self.effective_trigger() {
            Trigger::Every => true,
            Trigger::First => first,
            Trigger::Subsequent => !first && self.recurring != Some(false),
        }
    }

    fn specificity(&self) -> (bool, bool) {
        (
            self.effective_trigger() != Trigger::Every,
            self.event_type.is_some(),
        )
    }
}

/// 1 to `MAX_RULES` rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSet(Vec<Rule>);

/// One event as pricing sees it.
pub struct Occasion<'a> {
    pub event_type: &'a str,
    pub currency: &'a Currency,
    pub value_minor: i64,
    pub program_currency: &'a Currency,
    /// True when the customer has no earlier commission-earning event with this partner in
    /// this program.
    pub first: bool,
    /// The customer's first commission-earning event with this partner, if there was one.
    pub anchor: Option<Timestamp>,
    pub at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Price {
    Earned {
        amount_minor: i64,
        trigger: Trigger,
    },
    /// No commission, and why: `no_matching_rule`, `not_recurring`, `recurring_period_ended`,
    /// `currency_mismatch` or `zero_amount`.
    Nothing(&'static str),
}

/// The legacy single-rule view of a rule set: the first `every` rule, else the first rule.
pub struct Legacy<'a> {
    pub rate: CommissionRule,
    pub currency: Option<&'a Currency>,
    pub recurring: bool,
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> Result<RuleSet, String> {
        if rules.is_empty() || rules.len() > MAX_RULES {
            return Err(format!("must hold 1 to {MAX_RULES} rules"));
        }
        Ok(RuleSet(rules))
    }

    /// The older single-rule terms: `every`, or `first` when not recurring.
    pub fn single(rate: CommissionRule, recurring: bool) -> RuleSet {
        RuleSet(vec![Rule {
            trigger: if recurring {
                Trigger::Every
            } else {
                Trigger::First
            },
            event_type: None,
            rate,
            currency: None,
            recurring: None,
            recurring_months: None,
        }])
    }

    pub fn rules(&self) -> &[Rule] {
        &self.0
    }

    pub fn legacy(&self) -> Legacy<'_> {
        let rule = self
            .0
            .iter()
            .find(|r| r.trigger == Trigger::Every)
            .unwrap_or(&self.0[0]);
        Legacy {
            rate: rule.rate,
            currency: rule.currency.as_ref(),
            recurring: match rule.effective_trigger() {
                Trigger::First => false,
                _ => rule.recurring.unwrap_or(true),
            },
        }
    }

    /// Whether any rule can apply after the customer's first event (the terms recur).
    pub fn recurs(&self) -> bool {
        self.0.iter().any(|r| r.applies_at(false))
    }

    /// Picks the one rule that prices this event, and the commission it pays.
    pub fn price(&self, o: &Occasion<'_>) -> Price {
        let typed: Vec<&Rule> = self
            .0
            .iter()
            .filter(|r| r.event_type.as_deref().is_none_or(|t| t == o.event_type))
            .collect();
        if typed.is_empty() {
            return Price::Nothing("no_matching_rule");
        }
        let placed: Vec<&Rule> = typed
            .into_iter()
            .filter(|r| r.applies_at(o.first))
            .collect();
        if placed.is_empty() {
            return Price::Nothing("not_recurring");
        }
        let timely: Vec<&Rule> = placed
            .into_iter()
            .filter(|r| match (r.recurring_months, o.anchor) {
                (Some(n), Some(anchor)) => o.at < anchor.plus_months(n),
                _ => true,
            })
            .collect();
        if timely.is_empty() {
            return Price::Nothing("recurring_period_ended");
        }
        let payable = timely.into_iter().filter(|r| match r.rate.kind {
            CommissionType::Percent => true,
            CommissionType::Fixed => {
                r.currency.as_ref().unwrap_or(o.program_currency) == o.currency
            }
        });
        // The first of the most specific: `min_by_key` keeps the earliest of equal keys.
        let Some(best) = payable.min_by_key(|r| std::cmp::Reverse(r.specificity())) else {
            return Price::Nothing("currency_mismatch");
        };
        let amount_minor = best.rate.commission_minor(o.value_minor, o.currency);
        if amount_minor <= 0 {
            return Price::Nothing("zero_amount");
        }
        Price::Earned {
            amount_minor,
            trigger: best.effective_trigger(),
        }
    }

    /// The stored form (JSON text), read back by `from_storage`.
    pub fn to_storage(&self) -> String {
        let rows: Vec<Stored> = self
            .0
            .iter()
            .map(|r| Stored {
                trigger: r.trigger,
                event_type: r.event_type.clone(),
                kind: r.rate.kind.as_str().to_string(),
                value: r.rate.value.scaled(),
                currency: r.currency.as_ref().map(|c| c.as_str().to_string()),
                recurring: r.recurring,
                recurring_months: r.recurring_months,
            })
            .collect();
        serde_json::to_string(&rows).unwrap_or_else(|_| "[]".into())
    }

    pub fn from_storage(text: &str) -> Result<RuleSet, String> {
        let rows: Vec<Stored> = serde_json::from_str(text).map_err(|e| e.to_string())?;
        let rules = rows
            .into_iter()
            .map(|s| {
                Ok(Rule {
                    trigger: s.trigger,
                    event_type: s.event_type,
                    rate: CommissionRule {
                        kind: CommissionType::parse(&s.kind)
                            .ok_or_else(|| format!("unknown commission type {}", s.kind))?,
                        value: Dec4::from_scaled(s.value),
                    },
                    currency: s.currency.map(|c| Currency::parse(&c)).transpose()?,
                    recurring: s.recurring,
                    recurring_months: s.recurring_months,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        RuleSet::new(rules)
    }
}

/// A rule as answers show it. `value` is a JSON number with exactly its decimal digits.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    trigger: Trigger,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_type: Option<String>,
    /// `percent` or `fixed`.
    #[serde(rename = "type")]
    kind: &'static str,
    value: ExactNumber,
    #[serde(skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recurring: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recurring_months: Option<u32>,
}

pub fn rule_views(set: &RuleSet) -> Vec<RuleView> {
    set.rules()
        .iter()
        .map(|r| RuleView {
            trigger: r.trigger,
            event_type: r.event_type.clone(),
            kind: r.rate.kind.as_str(),
            value: ExactNumber::from_dec4(r.rate.value),
            currency: r.currency.as_ref().map(|c| c.as_str().to_string()),
            recurring: r.recurring,
            recurring_months: r.recurring_months,
        })
        .collect()
}

/// A rule as stored: values scaled by 10^4, like the legacy columns.
#[derive(Serialize, Deserialize)]
struct Stored {
    trigger: Trigger,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    event_type: Option<String>,
    kind: String,
    value: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    currency: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recurring: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    recurring_months: Option<u32>,
}

#[cfg(test)]
mod tests;
