//! Helpers that read single settings: flattening a TOML table into dotted names, URLs, cron
//! expressions and keys, and the error that names the setting.

use base64::Engine;
use url::Url;

use super::Layers;
use crate::config::ConfigError;

pub(super) fn err(setting: &str, message: String) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        message,
    }
}

pub(super) fn flatten(
    prefix: &str,
    table: &toml::Table,
    out: &mut impl FnMut(String, toml::Value),
) {
    for (key, value) in table {
        let path = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&path, inner, out),
            other => out(path, other.clone()),
        }
    }
}

pub(super) fn http_url(layers: &Layers, path: &str) -> Result<String, ConfigError> {
    let raw = layers.string(path)?;
    match Url::parse(&raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => {
            Ok(raw.trim_end_matches('/').to_string())
        }
        _ => Err(err(
            &layers.source(path),
            format!("expected an absolute http(s) URL, got {raw:?}"),
        )),
    }
}

pub(super) fn cron(layers: &Layers, path: &str) -> Result<String, ConfigError> {
    let expr = layers.string(path)?;
    validate_cron(&expr).map(|()| expr.clone()).map_err(|e| {
        err(
            &layers.source(path),
            format!("not a cron expression (sec min hour day month weekday): {e}"),
        )
    })
}

/// Checks a 6-field cron expression (seconds first) the way the scheduler (`jobs`) will read
/// it: by building a job from it. Here rather than in `jobs`, so reading the configuration
/// does not depend on the scheduler's module.
fn validate_cron(expr: &str) -> Result<(), String> {
    tokio_cron_scheduler::Job::new_async(expr, |_, _| Box::pin(async {}))
        .map(|_| ())
        .map_err(|e| format!("{e:?}"))
}

/// 32 bytes from 64 hex characters or standard/URL-safe base64.
pub(super) fn parse_key(raw: &str) -> Option<[u8; 32]> {
    let bytes = if raw.len() == 64 && raw.chars().all(|c| c.is_ascii_hexdigit()) {
        hex::decode(raw).ok()?
    } else {
        let engines = [
            base64::engine::general_purpose::STANDARD,
            base64::engine::general_purpose::URL_SAFE,
        ];
        engines
            .iter()
            .find_map(|e| e.decode(raw).ok())
            .or_else(|| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(raw.trim_end_matches('='))
                    .ok()
            })?
    };
    bytes.try_into().ok()
}
