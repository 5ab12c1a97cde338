//! Exact decimals. Commission values and amounts are integers scaled by 10^4 ("Dec4") or in a
//! currency's minor units: never floats. JSON numbers are read through their shortest decimal
//! form, so `49.99` is exactly 49.99.

use serde_json::Value;

/// A non-negative decimal with at most four fractional digits, stored as value × 10^4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dec4(i64);

pub const SCALE: i64 = 10_000;

impl Dec4 {
    pub const fn from_scaled(v: i64) -> Self {
        Dec4(v)
    }

    pub const fn scaled(self) -> i64 {
        self.0
    }

    /// Parses `"12.5"`, `12.5`, `"5.00"`, `10`. At most `max_decimals` (≤ 4) fractional digits.
    pub fn parse(value: &Value, max_decimals: u32) -> Result<Dec4, String> {
        let text = match value {
            Value::String(s) => s.trim().to_string(),
            Value::Number(n) => n.to_string(),
            _ => return Err("must be a decimal number or a string such as \"12.50\"".into()),
        };
        Dec4::parse_str(&text, max_decimals)
    }

    pub fn parse_str(text: &str, max_decimals: u32) -> Result<Dec4, String> {
        let bad =
            || format!("must be a non-negative decimal with at most {max_decimals} decimal places");
        if text.is_empty() || text.starts_with('-') || text.starts_with('+') {
            return Err(bad());
        }
        let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        if text.contains('.') && frac.is_empty() {
            return Err(bad());
        }
        let frac_trimmed = frac.trim_end_matches('0');
        if frac_trimmed.len() as u32 > max_decimals.min(4) {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        if whole > 100_000_000_000 {
            return Err("is too large".into());
        }
        let mut frac_value: i64 = 0;
        for (i, d) in frac_trimmed.bytes().enumerate() {
            frac_value += i64::from(d - b'0') * 10i64.pow(3 - i as u32);
        }
        Ok(Dec4(whole * SCALE + frac_value))
    }

    /// Shortest form: `10`, `12.5`, `0.0001`.
    pub fn to_plain(self) -> String {
        let whole = self.0 / SCALE;
        let frac = self.0 % SCALE;
        if frac == 0 {
            whole.to_string()
        } else {
            let f = format!("{frac:04}");
            format!("{whole}.{}", f.trim_end_matches('0'))
        }
    }

    /// At least `min_decimals` fractional digits (more if the value has them): `5.00`.
    pub fn to_fixed(self, min_decimals: u32) -> String {
        let plain = self.to_plain();
        let have = plain.split_once('.').map_or(0, |(_, f)| f.len() as u32);
        if have >= min_decimals {
            plain
        } else if have == 0 {
            format!("{plain}.{}", "0".repeat(min_decimals as usize))
        } else {
            format!("{plain}{}", "0".repeat((min_decimals - have) as usize))
        }
    }
}

/// A decimal written as a JSON number with exactly its digits (`12.5`, `100`, `-3.25`): never
/// through binary floating point. Serialize it with serde_json only (it is a raw JSON value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExactNumber(String);

impl ExactNumber {
    /// Minor units of `currency` as a number in major units, trailing zeros dropped:
    /// 1250 USD → `12.5`, 500 JPY → `500`.
    pub fn from_minor(minor: i64, currency: &Currency) -> Self {
        let text = currency.format_minor(minor);
        let text = if text.contains('.') {
            text.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            text
        };
        ExactNumber(text)
    }

    pub fn from_dec4(v: Dec4) -> Self {
        ExactNumber(v.to_plain())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for ExactNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let raw = serde_json::value::RawValue::from_string(self.0.clone())
            .map_err(serde::ser::Error::custom)?;
        raw.serialize(s)
    }
}

impl utoipa::PartialSchema for ExactNumber {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::Number)
            .examples([serde_json::json!(12.5)])
            .into()
    }
}

impl utoipa::ToSchema for ExactNumber {}

/// ISO 4217 code, uppercase.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Currency(String);

impl Currency {
    /// The default currency of programs and events.
    pub fn usd() -> Currency {
        Currency("USD".into())
    }

    pub fn parse(s: &str) -> Result<Currency, &'static str> {
        let s = s.trim().to_ascii_uppercase();
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) {
            Ok(Currency(s))
        } else {
            Err("must be a three-letter ISO 4217 code such as USD")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digits after the decimal point in this currency's minor unit.
    pub fn minor_digits(&self) -> u32 {
        match self.0.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    /// Minor units → decimal string in major units: 499 USD → "4.99".
    pub fn format_minor(&self, minor: i64) -> String {
        let digits = self.minor_digits();
        if digits == 0 {
            return minor.to_string();
        }
        let div = 10i64.pow(digits);
        let sign = if minor < 0 { "-" } else { "" };
        let m = minor.unsigned_abs() as i64;
        format!(
            "{sign}{}.{:0width$}",
            m / div,
            m % div,
            width = digits as usize
        )
    }

    /// Digits after the decimal point in the amounts Stripe's API uses for this currency. Mostly
    /// ISO 4217's, but Stripe keeps ISK two-decimal and treats MGA as zero-decimal
    /// (<https://docs.stripe.com/currencies#zero-decimal>).
    pub fn stripe_digits(&self) -> u32 {
        match self.0.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "JPY" | "KMF" | "KRW" | "MGA" | "PYG" | "RWF"
            | "UGX" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "JOD" | "KWD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    /// An amount as Stripe writes it (integer, [`Self::stripe_digits`]) → our minor units,
    /// exactly; `None` when it cannot be (negative, a fraction of our minor unit, overflow).
    pub fn from_stripe_amount(&self, amount: i64) -> Option<i64> {
        if amount < 0 {
            return None;
        }
        let (ours, theirs) = (self.minor_digits(), self.stripe_digits());
        if ours >= theirs {
            amount.checked_mul(10i64.pow(ours - theirs))
        } else {
            let div = 10i64.pow(theirs - ours);
            (amount % div == 0).then(|| amount / div)
        }
    }

    /// Our minor units → an amount as Stripe writes it, exactly; `None` when it cannot be
    /// (negative, a fraction of Stripe's unit such as 12.34 MGA, overflow). Stripe wants the
    /// three-decimal currencies rounded to ten of their minor units: 12.345 KWD is refused.
    pub fn to_stripe_amount(&self, minor: i64) -> Option<i64> {
        if minor < 0 || (self.stripe_digits() == 3 && minor % 10 != 0) {
            return None;
        }
        let (ours, theirs) = (self.minor_digits(), self.stripe_digits());
        if theirs >= ours {
            minor.checked_mul(10i64.pow(theirs - ours))
        } else {
            let div = 10i64.pow(ours - theirs);
            (minor % div == 0).then(|| minor / div)
        }
    }

    /// A Dec4 in major units → minor units, if it has no more precision than the currency.
    pub fn to_minor(&self, value: Dec4) -> Option<i64> {
        let per_minor = SCALE / 10i64.pow(self.minor_digits());
        (value.scaled() % per_minor == 0).then(|| value.scaled() / per_minor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_strings_and_numbers_exactly() {
        assert_eq!(Dec4::parse(&json!("12.5"), 4).unwrap().scaled(), 125_000);
        assert_eq!(Dec4::parse(&json!(12.5), 4).unwrap().scaled(), 125_000);
        assert_eq!(Dec4::parse(&json!(49.99), 2).unwrap().scaled(), 499_900);
        assert_eq!(Dec4::parse(&json!("5.00"), 2).unwrap().scaled(), 50_000);
        assert_eq!(Dec4::parse(&json!(10), 4).unwrap().scaled(), 100_000);
        assert_eq!(Dec4::parse(&json!("0.0001"), 4).unwrap().scaled(), 1);
        for bad in [
            json!("-1"),
            json!("1.23456"),
            json!("abc"),
            json!(""),
            json!("1."),
            json!(true),
            json!("1e3"),
        ] {
            assert!(Dec4::parse(&bad, 4).is_err(), "{bad}");
        }
        assert!(Dec4::parse(&json!("1.234"), 2).is_err());
    }

    #[test]
    fn exact_numbers_keep_their_digits() {
        let usd = Currency::usd();
        let n = |m, c: &Currency| serde_json::to_string(&ExactNumber::from_minor(m, c)).unwrap();
        assert_eq!(n(1250, &usd), "12.5");
        assert_eq!(n(10000, &usd), "100");
        assert_eq!(n(1, &usd), "0.01");
        assert_eq!(n(0, &usd), "0");
        assert_eq!(n(-325, &usd), "-3.25");
        assert_eq!(n(500, &Currency::parse("JPY").unwrap()), "500");
        assert_eq!(n(1005, &Currency::parse("KWD").unwrap()), "1.005");
        // 0.1 + 0.2 style sums stay exact: 30 minor units is 0.3, not 0.30000000000000004.
        assert_eq!(n(30, &usd), "0.3");
    }

    #[test]
    fn stripe_amounts_convert_exactly() {
        let c = |code: &str| Currency::parse(code).unwrap();
        assert_eq!(c("usd").from_stripe_amount(4999), Some(4999));
        assert_eq!(c("jpy").from_stripe_amount(5000), Some(5000));
        assert_eq!(c("JPY").format_minor(5000), "5000");
        assert_eq!(c("kwd").from_stripe_amount(12_340), Some(12_340));
        assert_eq!(c("KWD").format_minor(12_340), "12.340");
        // Stripe's two-decimal ISK is zero-decimal for us; its zero-decimal MGA two-decimal.
        assert_eq!(c("isk").from_stripe_amount(50_000), Some(500));
        assert_eq!(c("isk").from_stripe_amount(50_050), None);
        assert_eq!(c("mga").from_stripe_amount(700), Some(70_000));
        assert_eq!(c("usd").from_stripe_amount(-1), None);
        assert_eq!(c("mga").from_stripe_amount(i64::MAX), None);
        // And back, for transfers: what cannot be written in Stripe's unit is refused.
        assert_eq!(c("usd").to_stripe_amount(4999), Some(4999));
        assert_eq!(c("jpy").to_stripe_amount(5000), Some(5000));
        assert_eq!(c("kwd").to_stripe_amount(12_340), Some(12_340));
        assert_eq!(c("kwd").to_stripe_amount(12_345), None);
        assert_eq!(c("isk").to_stripe_amount(500), Some(50_000));
        assert_eq!(c("mga").to_stripe_amount(70_000), Some(700));
        assert_eq!(c("mga").to_stripe_amount(70_050), None);
        assert_eq!(c("iqd").to_stripe_amount(12_340), Some(1_234));
        assert_eq!(c("iqd").to_stripe_amount(12_345), None);
        assert_eq!(c("usd").to_stripe_amount(-1), None);
        assert_eq!(c("isk").to_stripe_amount(i64::MAX), None);
    }

    #[test]
    fn formats() {
        assert_eq!(Dec4::from_scaled(125_000).to_plain(), "12.5");
        assert_eq!(Dec4::from_scaled(100_000).to_plain(), "10");
        assert_eq!(Dec4::from_scaled(50_000).to_fixed(2), "5.00");
        assert_eq!(Dec4::from_scaled(50_500).to_fixed(2), "5.05");
        assert_eq!(Dec4::from_scaled(50_505).to_fixed(2), "5.0505");
        let usd = Currency::parse("usd").unwrap();
        assert_eq!(usd.format_minor(499), "4.99");
        assert_eq!(usd.format_minor(5), "0.05");
        assert_eq!(Currency::parse("JPY").unwrap().format_minor(500), "500");
        assert_eq!(Currency::parse("KWD").unwrap().format_minor(1500), "1.500");
        assert_eq!(usd.to_minor(Dec4::from_scaled(499_900)), Some(4999));
        assert_eq!(usd.to_minor(Dec4::from_scaled(1)), None);
    }
}
