//! Commission terms in words, for partners: "30 % of the first sale, then 10 % of each later
//! sale for 12 months; paid after a 14-day holdback".

use super::commission::CommissionType;
use super::money::Currency;
use super::rules::{Rule, RuleSet, Trigger};

fn amount(rule: &Rule, program_currency: &Currency) -> String {
    match rule.rate.kind {
        CommissionType::Percent => format!("{} %", rule.rate.value.to_plain()),
        CommissionType::Fixed => {
            let c = rule.currency.as_ref().unwrap_or(program_currency);
            format!(
                "{} {}",
                rule.rate.value.to_fixed(c.minor_digits()),
                c.as_str()
            )
        }
    }
}

fn one(rule: &Rule, program_currency: &Currency, later: bool) -> String {
    let event = rule.event_type.as_deref().unwrap_or("sale");
    let of = match rule.rate.kind {
        CommissionType::Percent => "of",
        CommissionType::Fixed => "for",
    };
    let trigger = if rule.recurring == Some(false) && rule.trigger == Trigger::Every {
        Trigger::First
    } else {
        rule.trigger
    };
    let target = match trigger {
        Trigger::First => format!("the first {event}"),
        Trigger::Subsequent => format!("each later {event}"),
        Trigger::Every => format!("every {event}"),
    };
    let mut text = format!("{} {of} {target}", amount(rule, program_currency));
    if later && trigger == Trigger::Subsequent {
        text = format!("then {text}");
    }
    if let Some(months) = rule.recurring_months.filter(|_| trigger != Trigger::First) {
        let unit = if months == 1 { "month" } else { "months" };
        text.push_str(&format!(" for {months} {unit}"));
    }
    text
}

/// The rules in words, `first` rules before the others, then the holdback.
pub fn describe(rules: &RuleSet, program_currency: &Currency, holdback_days: i64) -> String {
    let mut ordered: Vec<&Rule> = rules.rules().iter().collect();
    ordered.sort_by_key(|r| match r.trigger {
        Trigger::First => 0,
        Trigger::Subsequent => 1,
        Trigger::Every => 2,
    });
    let parts: Vec<String> = ordered
        .iter()
        .enumerate()
        .map(|(i, r)| one(r, program_currency, i > 0))
        .collect();
    let holdback = if holdback_days > 0 {
        format!("paid after a {holdback_days}-day holdback")
    } else {
        "paid without a holdback".to_string()
    };
    format!("{}; {holdback}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::commission::CommissionRule;
    use crate::domain::money::Dec4;

    fn rule(trigger: Trigger, kind: CommissionType, value: &str, months: Option<u32>) -> Rule {
        Rule {
            trigger,
            event_type: None,
            rate: CommissionRule {
                kind,
                value: Dec4::parse_str(value, 4).unwrap(),
            },
            currency: None,
            recurring: None,
            recurring_months: months,
        }
    }

    #[test]
    fn first_then_later_with_holdback() {
        let set = RuleSet::new(vec![
            rule(Trigger::Subsequent, CommissionType::Percent, "10", Some(12)),
            rule(Trigger::First, CommissionType::Percent, "30", None),
        ])
        .unwrap();
        assert_eq!(
            describe(&set, &Currency::usd(), 14),
            "30 % of the first sale, then 10 % of each later sale for 12 months; paid after a 14-day holdback"
        );
    }

    #[test]
    fn fixed_amount_in_its_currency() {
        let set =
            RuleSet::new(vec![rule(Trigger::Every, CommissionType::Fixed, "5", None)]).unwrap();
        assert_eq!(
            describe(&set, &Currency::usd(), 0),
            "5.00 USD for every sale; paid without a holdback"
        );
    }
}
