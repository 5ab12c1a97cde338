//! Checks of the request fields the partner bodies share: names, emails, metadata, program
//! lists and commission snapshots.

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::domain::commission::CommissionRule;
use crate::domain::email::Email;
use crate::domain::rules::RuleSet;
use crate::http::rules::{RuleBody, Strictness, parse_rules};
use crate::service::partners::NewSnapshot;

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

pub(super) fn metadata_object(
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
pub(super) fn program_list(
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
