//! The brand's name as partners see it (emails, the portal, the console's header).

/// A name an admin gave: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandName(String);

pub const MAX_CHARS: usize = 100;

impl BrandName {
    /// Why the name cannot be used, in words for the `invalid_body` detail.
    pub fn parse(raw: &str) -> Result<BrandName, String> {
        let name = raw.trim();
        if name.is_empty() {
            return Err("must not be empty".into());
        }
        if name.chars().count() > MAX_CHARS {
            return Err(format!("must be at most {MAX_CHARS} characters"));
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters (line breaks, tabs, NUL)".into());
        }
        if name.chars().any(is_invisible_format) {
            return Err(
                "must not contain invisible or direction-changing characters (e.g. U+202E)".into(),
            );
        }
        Ok(BrandName(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Unicode format characters that are invisible or reorder text (zero-width, bidi
/// controls, soft hyphen, BOM): in a name shown to partners they only serve to spoof.
fn is_invisible_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_invisible_and_bidi_characters() {
        assert!(BrandName::parse("Acme\u{202E}emcA").is_err());
        assert!(BrandName::parse("Ac\u{200B}me").is_err());
        assert!(BrandName::parse("Café Ünïcode 東京").is_ok());
    }

    #[test]
    fn trims_and_bounds() {
        assert_eq!(BrandName::parse("  Acme  ").unwrap().as_str(), "Acme");
        assert!(BrandName::parse(" \t ").is_err());
        assert!(BrandName::parse(&"é".repeat(100)).is_ok());
        assert!(BrandName::parse(&"é".repeat(101)).is_err());
        assert!(BrandName::parse("Ac\0me").is_err());
        assert!(BrandName::parse("Ac\nme").is_err());
    }
}
