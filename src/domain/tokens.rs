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
    fn ct_eq_compares() {
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd"));
        assert!(!ct_eq("abc", "ab"));
    }
}
