//! Standard Webhooks signing: secrets are `whsec_` + base64 of 24 random bytes; a message is
//! signed as `v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">`, keyed
//! with the secret's decoded bytes. During the 24 h after a rotation both the new and the old
//! secret sign, space-separated in one `webhook-signature` header.
//!
//! At rest a secret is encrypted with SECRETS_ENCRYPTION_KEY when one is configured (it must
//! be usable to sign, so it cannot be kept only as a hash), else marked `plain:`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";
const PLAIN: &str = "plain:";

/// A fresh signing secret.
pub fn new_secret() -> String {
    format!("{PREFIX}{}", STANDARD.encode(rand::random::<[u8; 24]>()))
}

/// The form a secret is stored in.
pub fn seal(key: Option<&[u8; 32]>, secret: &str) -> String {
    match key {
        Some(key) => crate::secrets::encrypt(key, secret),
        None => format!("{PLAIN}{secret}"),
    }
}

/// A stored secret back, or `None` when it was encrypted with another key (or none is set).
pub fn open(key: Option<&[u8; 32]>, stored: &str) -> Option<String> {
    match stored.strip_prefix(PLAIN) {
        Some(plain) => Some(plain.to_string()),
        None => crate::secrets::decrypt(key?, stored),
    }
}

/// One `v1,<base64>` signature.
pub fn sign(secret: &str, msg_id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD.decode(secret.strip_prefix(PREFIX)?).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{msg_id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    Some(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated.
pub fn signature_header(
    secrets: &[String],
    msg_id: &str,
    timestamp: i64,
    body: &str,
) -> Option<String> {
    let sigs: Vec<String> = secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Option<_>>()?;
    (!sigs.is_empty()).then(|| sigs.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_the_standard_shape_and_seal() {
        let s = new_secret();
        assert!(s.starts_with("whsec_"));
        assert_eq!(STANDARD.decode(&s[6..]).unwrap().len(), 24);
        let key = [9u8; 32];
        let sealed = seal(Some(&key), &s);
        assert!(!sealed.contains(&s[6..]));
        assert_eq!(open(Some(&key), &sealed), Some(s.clone()));
        assert_eq!(open(None, &sealed), None);
        assert_eq!(open(None, &seal(None, &s)), Some(s));
    }

    #[test]
    fn two_secrets_give_two_signatures() {
        let (a, b) = (new_secret(), new_secret());
        let h = signature_header(&[a.clone(), b], "msg_1", 1_700_000_000, "{}").unwrap();
        let parts: Vec<&str> = h.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_eq!(parts[0], sign(&a, "msg_1", 1_700_000_000, "{}").unwrap());
        assert_ne!(parts[0], sign(&a, "msg_1", 1_700_000_001, "{}").unwrap());
    }
}
