//! Loading and checking the configuration.

use std::collections::BTreeMap;

use base64::Engine;

use super::*;

fn load(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let map: BTreeMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(|k| map.get(k).cloned())
}

#[test]
fn defaults_load() {
    let c = load(&[]).unwrap();
    assert_eq!(c.bind.to_string(), "127.0.0.1:8080");
    assert_eq!(c.public_url, "http://localhost:8080");
    assert_eq!(c.network_url, "https://network.openpartner.dev");
    assert!(c.database_url.is_none());
    assert_eq!(c.heartbeat_cron, "0 7 * * * *");
    assert_eq!(c.admin_email, None);
    assert!(!c.webhooks_allow_private);
    assert_eq!(c.webhook_retention_days, 30);
    let c = load(&[("OPENPARTNER_ADMIN_EMAIL", " Ops@Brand.example ")]).unwrap();
    assert_eq!(c.admin_email.as_deref(), Some("ops@brand.example"));
}

#[test]
fn bad_settings_name_the_variable() {
    let e = load(&[("OPENPARTNER_BIND", "nope")]).unwrap_err();
    assert_eq!(e.setting, "OPENPARTNER_BIND");
    let e = load(&[("SECRETS_ENCRYPTION_KEY", "short")]).unwrap_err();
    assert_eq!(e.setting, "SECRETS_ENCRYPTION_KEY");
    let e = load(&[("OPENPARTNER_WEBHOOK_RETENTION_DAYS", "0")]).unwrap_err();
    assert_eq!(e.setting, "OPENPARTNER_WEBHOOK_RETENTION_DAYS");
    let e = load(&[("OPENPARTNER_LOG_FORMAT", "xml")]).unwrap_err();
    assert_eq!(e.setting, "OPENPARTNER_LOG_FORMAT");
    let e = load(&[("DATABASE_URL", "mysql://x")]).unwrap_err();
    assert_eq!(e.setting, "DATABASE_URL");
    let e = load(&[("OPENPARTNER_HEARTBEAT_CRON", "every hour")]).unwrap_err();
    assert_eq!(e.setting, "OPENPARTNER_HEARTBEAT_CRON");
    let e = load(&[("OPENPARTNER_ADMIN_EMAIL", "not an email")]).unwrap_err();
    assert_eq!(e.setting, "OPENPARTNER_ADMIN_EMAIL");
    let e = load(&[
        ("OPENPARTNER_ADMIN_EMAIL", "No-Reply@localhost.example"),
        ("MAIL_FROM", "Brand <no-reply@localhost.example>"),
    ])
    .unwrap_err();
    assert_eq!(e.setting, "OPENPARTNER_ADMIN_EMAIL");
}

#[test]
fn smtp_url_errors_do_not_echo_the_password() {
    let e = load(&[("SMTP_URL", "http://user:hunter2@host")]).unwrap_err();
    assert_eq!(e.setting, "SMTP_URL");
    assert!(!e.to_string().contains("hunter2"));
}

#[test]
fn encryption_key_accepts_hex_and_base64() {
    let hex_key = "00".repeat(32);
    assert!(
        load(&[("SECRETS_ENCRYPTION_KEY", &hex_key)])
            .unwrap()
            .encryption_key
            .is_some()
    );
    let b64 = base64::engine::general_purpose::STANDARD.encode([7u8; 32]);
    let c = load(&[("SECRETS_ENCRYPTION_KEY", &b64)]).unwrap();
    assert_eq!(c.encryption_key.unwrap().expose(), &[7u8; 32]);
}

#[test]
fn secrets_are_redacted_in_debug() {
    let c = load(&[("ADMIN_API_KEY", "super-secret-admin-key")]).unwrap();
    assert!(!format!("{c:?}").contains("super-secret"));
}

#[test]
fn stripe_mode_comes_from_the_setting_or_the_key() {
    assert_eq!(load(&[]).unwrap().stripe_livemode, None);
    let c = load(&[("STRIPE_SECRET_KEY", "sk_live_abc")]).unwrap();
    assert_eq!(c.stripe_livemode, Some(true));
    let c = load(&[("STRIPE_SECRET_KEY", "sk_test_abc")]).unwrap();
    assert_eq!(c.stripe_livemode, Some(false));
    let c = load(&[("STRIPE_LIVEMODE", "true")]).unwrap();
    assert_eq!(c.stripe_livemode, Some(true));
    let e = load(&[
        ("STRIPE_LIVEMODE", "true"),
        ("STRIPE_SECRET_KEY", "sk_test_abc"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("STRIPE_LIVEMODE"), "{e}");
    assert!(load(&[("STRIPE_LIVEMODE", "maybe")]).is_err());
}
