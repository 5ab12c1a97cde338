//! Commission rules: a percent of the sale value or a fixed amount, exactly.

use serde::Serialize;
use serde_json::Value;

use super::money::{Currency, Dec4};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommissionType {
    Percent,
    Fixed,
}

impl CommissionType {
    pub fn parse(s: &str) -> Option<CommissionType> {
        match s {
            "percent" => Some(CommissionType::Percent),
            "fixed" => Some(CommissionType::Fixed),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CommissionType::Percent => "percent",
            CommissionType::Fixed => "fixed",
        }
    }
}

impl Serialize for CommissionType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A commission's state: accrued → approved → paid; accrued or approved → reversed; accrued or
/// approved ⇄ on_hold while a dispute is open. Stored as [`CommissionStatus::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommissionStatus {
    Accrued,
    Approved,
    Paid,
    Reversed,
    /// A dispute is open: not approvable, not payable, in no payout.
    OnHold,
}

impl CommissionStatus {
    pub const ALL: [CommissionStatus; 5] = [
        CommissionStatus::Accrued,
        CommissionStatus::Approved,
        CommissionStatus::Paid,
        CommissionStatus::Reversed,
        CommissionStatus::OnHold,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CommissionStatus::Accrued => "accrued",
            CommissionStatus::Approved => "approved",
            CommissionStatus::Paid => "paid",
            CommissionStatus::Reversed => "reversed",
            CommissionStatus::OnHold => "on_hold",
        }
    }

    pub fn parse(s: &str) -> Option<CommissionStatus> {
        CommissionStatus::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
    }

    /// The states a commission may move to this state from.
    pub fn allowed_from(self) -> &'static [CommissionStatus] {
        match self {
            CommissionStatus::Accrued => &[],
            CommissionStatus::Approved => &[CommissionStatus::Accrued],
            CommissionStatus::Paid => &[CommissionStatus::Approved],
            CommissionStatus::Reversed => &[
                CommissionStatus::Accrued,
                CommissionStatus::Approved,
                CommissionStatus::OnHold,
            ],
            // Only a dispute puts a commission on hold (`db::commissions::hold`).
            CommissionStatus::OnHold => &[],
        }
    }
}

/// A rule: `Percent(12.5)` is 12.5 % of the value; `Fixed(5)` is 5.00 in the program currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommissionRule {
    pub kind: CommissionType,
    pub value: Dec4,
}

impl CommissionRule {
    /// Validates a type and a JSON value. `fixed_decimals` bounds a fixed amount's precision
    /// (the currency's minor digits); a percent may have four decimals and be at most 100.
    pub fn parse(
        kind: &str,
        value: &Value,
        fixed_decimals: u32,
    ) -> Result<CommissionRule, (&'static str, String)> {
        let kind = CommissionType::parse(kind)
            .ok_or(("type", "must be \"percent\" or \"fixed\"".to_string()))?;
        let decimals = match kind {
            CommissionType::Percent => 4,
            CommissionType::Fixed => fixed_decimals,
        };
        let value = Dec4::parse(value, decimals).map_err(|e| ("value", e))?;
        if kind == CommissionType::Percent && value > Dec4::from_scaled(100 * super::money::SCALE) {
            return Err(("value", "a percentage must be at most 100".into()));
        }
        Ok(CommissionRule { kind, value })
    }

    /// The value as shown: `12.5` for a percent, `5.00` for a fixed amount.
    pub fn display_value(&self, currency: Option<&Currency>) -> String {
        match self.kind {
            CommissionType::Percent => self.value.to_plain(),
            CommissionType::Fixed => self
                .value
                .to_fixed(currency.map_or(2, Currency::minor_digits)),
        }
    }

    /// The commission on `value_minor` (in the sale currency's minor units), in minor units.
    /// Rounding rule: half up to the nearest minor unit, on the exact product (12.5 % of 0.04 is
    /// 0.005 → 0.01; 12.5 % of 19.99 is 2.49875 → 2.50; 10 % of 0.03 is 0.003 → 0.00).
    pub fn commission_minor(&self, value_minor: i64, currency: &Currency) -> i64 {
        match self.kind {
            CommissionType::Percent => {
                // value × pct/100, with pct scaled by 10^4: divide by 100 × 10^4.
                let num = i128::from(value_minor) * i128::from(self.value.scaled());
                let den: i128 = 100 * i128::from(super::money::SCALE);
                let q = num / den;
                let r = num % den;
                (if r * 2 >= den { q + 1 } else { q }) as i64
            }
            CommissionType::Fixed => {
                let per_minor = super::money::SCALE / 10i64.pow(currency.minor_digits());
                let v = self.value.scaled();
                let q = v / per_minor;
                if (v % per_minor) * 2 >= per_minor {
                    q + 1
                } else {
                    q
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn percent_rounds_half_up_in_minor_units() {
        let usd = Currency::usd();
        let r = CommissionRule::parse("percent", &json!("10"), 2).unwrap();
        assert_eq!(r.commission_minor(4999, &usd), 500); // 4.999 → 5.00
        let r = CommissionRule::parse("percent", &json!("12.5"), 2).unwrap();
        assert_eq!(r.commission_minor(10_000, &usd), 1250);
        assert_eq!(r.commission_minor(4, &usd), 1); // 0.5 → 1
        assert_eq!(r.commission_minor(3, &usd), 0); // 0.375 → 0
        let f = CommissionRule::parse("fixed", &json!("5.00"), 2).unwrap();
        assert_eq!(f.commission_minor(123_456, &usd), 500);
        assert!(CommissionRule::parse("percent", &json!(100.5), 2).is_err());
        assert!(CommissionRule::parse("bonus", &json!(1), 2).is_err());
        assert!(CommissionRule::parse("fixed", &json!("5.001"), 2).is_err());
    }
}
