//! Secrets in memory ([`Secret`], never printed) and at rest (the Network vendor token):
//! ChaCha20-Poly1305 with SECRETS_ENCRYPTION_KEY and a random nonce per value, stored as
//! `v1:<base64(nonce || ciphertext)>`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

const PREFIX: &str = "v1:";

/// A value that must never be printed: `Debug` shows `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

pub fn encrypt(key: &[u8; 32], plaintext: &str) -> String {
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
    let ciphertext = cipher
        .encrypt(&nonce, plaintext.as_bytes())
        .expect("encryption with a valid key cannot fail");
    let mut out = nonce.to_vec();
    out.extend(ciphertext);
    format!("{PREFIX}{}", STANDARD.encode(out))
}

/// `None` when the value was not made with this key (or was altered).
pub fn decrypt(key: &[u8; 32], stored: &str) -> Option<String> {
    let bytes = STANDARD.decode(stored.strip_prefix(PREFIX)?).ok()?;
    if bytes.len() < 12 {
        return None;
    }
    let (nonce, ciphertext) = bytes.split_at(12);
    let cipher = ChaCha20Poly1305::new(Key::from_slice(key));
    let plain = cipher.decrypt(Nonce::from_slice(nonce), ciphertext).ok()?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_the_wrong_key() {
        let key = [3u8; 32];
        let stored = encrypt(&key, "vt_secret");
        assert!(!stored.contains("vt_secret"));
        assert_ne!(stored, encrypt(&key, "vt_secret"), "random nonce");
        assert_eq!(decrypt(&key, &stored).as_deref(), Some("vt_secret"));
        assert_eq!(decrypt(&[4u8; 32], &stored), None);
        assert_eq!(decrypt(&key, "v1:garbage"), None);
    }
}
