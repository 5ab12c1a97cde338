//! The brand logo below HTTP: which images are accepted, how large, and the versioned public
//! URL it is served at. `http::uploads` takes and serves it; the Network heartbeat announces
//! its URL.

use crate::db;
use crate::db::Db;

pub const MAX_LOGO: usize = 2 * 1024 * 1024;

/// The image type the bytes really are.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// The logo's version (changes with each upload), if there is one.
pub async fn logo_version(db: &Db) -> Option<i64> {
    db::logo::meta(db.pool()).await.ok()?.map(|(_, v)| v)
}

/// Where the logo of `version` is served: `<public URL>/uploads/logo?v=<version>`.
pub fn logo_url(public_url: &str, version: i64) -> String {
    format!("{public_url}/uploads/logo?v={version}")
}
