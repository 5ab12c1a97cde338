//! Bearer secrets: API keys (`op_`), partner sessions (`ops_`) and magic links (`opml_`).
//! Each is a prefix plus 48 hex characters (24 random bytes). Only the SHA-256 is stored.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a presented bearer secret claims to be, from its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    ApiKey,
    Session,
    MagicLink,
    /// An admin console session (cookie `op_admin`).
    AdminSession,
}

impl TokenKind {
    pub fn prefix(self) -> &'static str {
        match self {
            TokenKind::ApiKey => "op_",
            TokenKind::Session => "ops_",
            TokenKind::MagicLink => "opml_",
            TokenKind::AdminSession => "opa_",
        }
    }

    /// Classifies a well-formed token; anything else is `None`.
    pub fn of(token: &str) -> Option<TokenKind> {
        [
            TokenKind::ApiKey,
            TokenKind::Session,
            TokenKind::MagicLink,
            TokenKind::AdminSession,
        ]
        .into_iter()
        .find(|kind| {
            token
                .strip_prefix(kind.prefix())
                .is_some_and(|rest| rest.len() == 48 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
        })
    }
}

/// A freshly generated secret. Shown once, then only its hash exists.
pub struct NewToken {
    pub plaintext: String,
    pub hash: String,
}

impl NewToken {
    pub fn generate(kind: TokenKind) -> NewToken {
        let mut bytes = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let plaintext = format!("{}{}", kind.prefix(), hex::encode(bytes));
        let hash = hash_token(&plaintext);
        NewToken { plaintext, hash }
    }

    /// The lookup prefix shown in listings: the first 8 characters of the key.
    pub fn display_prefix(&self) -> String {
        display_prefix(&self.plaintext)
    }
}

/// The first 8 characters: enough to find a key in a listing, useless to an attacker.
pub fn display_prefix(token: &str) -> String {
    token.chars().take(8).collect()
}

/// Lowercase hex SHA-256, the only form in which secrets are stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Raw SHA-256, used as a cache key.
pub fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// What a redacted secret reads as: its prefix, then this.
pub const REDACTED: &str = "[redacted]";

/// `text` with every well-formed secret of ours (`op_`, `ops_`, `opml_`, `opa_` and 48 hex
/// characters) replaced by its prefix and [`REDACTED`]. For copies kept after their use, such
/// as a sent email that carried a magic link.
pub fn redact(text: &str) -> String {
    const KINDS: [TokenKind; 4] = [
        TokenKind::MagicLink,
        TokenKind::Session,
        TokenKind::AdminSession,
        TokenKind::ApiKey,
    ];
    let bytes = text.as_bytes();
    let secret_at = |i: usize| {
        KINDS.iter().map(|k| k.prefix()).find(|p| {
            let end = i + p.len() + 48;
            bytes[i..].starts_with(p.as_bytes())
                && end <= bytes.len()
                && bytes[i + p.len()..end].iter().all(u8::is_ascii_hexdigit)
        })
    };
    let mut out = String::with_capacity(text.len());
    let (mut copied, mut i) = (0, 0);
    while i < bytes.len() {
        match secret_at(i) {
            // Prefixes and hex digits are ASCII, so both ends are character boundaries.
            Some(prefix) => {
                out.push_str(&text[copied..i]);
                out.push_str(prefix);
                out.push_str(REDACTED);
                i += prefix.len() + 48;
                copied = i;
            }
            None => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// Constant-time equality for secrets and their hashes.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_have_the_documented_shape() {
        for kind in [
            TokenKind::ApiKey,
            TokenKind::Session,
            TokenKind::MagicLink,
            TokenKind::AdminSession,
        ] {
            let t = NewToken::generate(kind);
            assert_eq!(t.plaintext.len(), kind.prefix().len() + 48);
            assert_eq!(TokenKind::of(&t.plaintext), Some(kind));
            assert_eq!(t.hash, hash_token(&t.plaintext));
            assert_ne!(t.hash, t.plaintext);
        }
        assert_eq!(TokenKind::of("op_xyz"), None);
        assert_eq!(TokenKind::of(&format!("op_{}", "g".repeat(48))), None);
    }

    #[test]
    fn redact_removes_every_secret_and_keeps_the_rest() {
        let link = NewToken::generate(TokenKind::MagicLink).plaintext;
        let key = NewToken::generate(TokenKind::ApiKey).plaintext;
        let text = format!(
            "Héllo,\nhttps://x/auth/magic?token={link}&a=1\n{key}.\nshop_{}",
            "g".repeat(48)
        );
        let out = redact(&text);
        assert!(
            !out.contains(&link[5..]) && !out.contains(&key[3..]),
            "{out}"
        );
        assert!(out.contains("token=opml_[redacted]&a=1"), "{out}");
        assert!(out.contains("\nop_[redacted].\n"), "{out}");
        assert!(
            out.starts_with("Héllo,") && out.ends_with(&"g".repeat(48)),
            "{out}"
        );
        // Not a secret: too short.
        assert_eq!(redact("opml_abc"), "opml_abc");
        assert_eq!(redact(""), "");
    }

    #[test]
    fn ct_eq_compares() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "ab"));
    }
}
