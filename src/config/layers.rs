//! How settings are read: the compiled-in defaults, the optional file, then the environment,
//! flattened with the name each value came from; then checked and built into a [`Config`].

mod values;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;
use url::Url;

use self::values::{cron, err, flatten, http_url, parse_key};
use super::*;

/// Flattened settings with the name each value came from.
pub(super) struct Layers {
    values: BTreeMap<String, (toml::Value, String)>,
}

impl Layers {
    pub(super) fn new() -> Result<Self, ConfigError> {
        let table: toml::Table = DEFAULT_TOML.parse().map_err(|e| ConfigError {
            setting: "config/default.toml".into(),
            message: format!("{e}"),
        })?;
        let mut values = BTreeMap::new();
        flatten("", &table, &mut |path, value| {
            values.insert(path.clone(), (value, path));
        });
        Ok(Layers { values })
    }

    pub(super) fn merge_file(&mut self, path: &str) -> Result<(), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            setting: "OPENPARTNER_CONFIG".into(),
            message: format!("cannot read {path}: {e}"),
        })?;
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ConfigError {
            setting: "OPENPARTNER_CONFIG".into(),
            message: format!("{path} is not valid TOML: {}", e.message()),
        })?;
        let mut unknown = None;
        flatten("", &table, &mut |key, value| {
            if self.values.contains_key(&key) {
                self.values
                    .insert(key.clone(), (value, format!("{key} (in {path})")));
            } else if unknown.is_none() {
                unknown = Some(key);
            }
        });
        match unknown {
            Some(key) => Err(ConfigError {
                setting: format!("{key} (in {path})"),
                message: "unknown setting".into(),
            }),
            None => Ok(()),
        }
    }

    pub(super) fn set(&mut self, path: &str, value: toml::Value, source: String) {
        self.values.insert(path.to_string(), (value, source));
    }

    fn raw(&self, path: &str) -> (&toml::Value, &str) {
        let (value, source) = self
            .values
            .get(path)
            .unwrap_or_else(|| panic!("setting {path} missing from default.toml"));
        (value, source.as_str())
    }

    fn string(&self, path: &str) -> Result<String, ConfigError> {
        match self.raw(path) {
            (toml::Value::String(s), _) => Ok(s.trim().to_string()),
            (other, source) => Err(err(source, format!("expected a string, got {other}"))),
        }
    }

    fn optional(&self, path: &str) -> Result<Option<String>, ConfigError> {
        Ok(Some(self.string(path)?).filter(|s| !s.is_empty()))
    }

    fn number(&self, path: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
        let (value, source) = self.raw(path);
        let n = match value {
            toml::Value::Integer(i) => u64::try_from(*i).ok(),
            toml::Value::String(s) => s.trim().parse::<u64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(err(
                source,
                format!("expected a whole number from {min} to {max}, got {value}"),
            )),
        }
    }

    fn boolean(&self, path: &str) -> Result<bool, ConfigError> {
        let (value, source) = self.raw(path);
        match value {
            toml::Value::Boolean(b) => Ok(*b),
            toml::Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" | "" => Ok(false),
                _ => Err(err(source, format!("expected true or false, got {s:?}"))),
            },
            other => Err(err(source, format!("expected true or false, got {other}"))),
        }
    }

    /// Which Stripe mode's events count: the setting, else the secret key's mode; a setting
    /// that contradicts the key is refused.
    fn stripe_livemode(&self) -> Result<Option<bool>, ConfigError> {
        let key_mode = self
            .optional("stripe.secret_key")?
            .map(|k| k.starts_with("sk_live_") || k.starts_with("rk_live_"));
        let set = match self.optional("stripe.livemode")? {
            None => None,
            Some(_) => Some(self.boolean("stripe.livemode")?),
        };
        match (set, key_mode) {
            (Some(s), Some(k)) if s != k => Err(err(
                &self.source("stripe.livemode"),
                format!(
                    "says {} mode but STRIPE_SECRET_KEY is a {} key",
                    if s { "live" } else { "test" },
                    if k { "live" } else { "test" }
                ),
            )),
            (set, key_mode) => Ok(set.or(key_mode)),
        }
    }

    fn source(&self, path: &str) -> String {
        self.raw(path).1.to_string()
    }

    pub(super) fn build(self) -> Result<Config, ConfigError> {
        let bind_raw = self.string("server.bind")?;
        let bind = bind_raw.parse::<SocketAddr>().map_err(|_| {
            err(
                &self.source("server.bind"),
                format!("expected host:port such as 127.0.0.1:8080, got {bind_raw:?}"),
            )
        })?;
        let public_url = http_url(&self, "server.public_url")?;
        let data_dir = PathBuf::from(self.string("server.data_dir")?);
        if data_dir.as_os_str().is_empty() {
            return Err(err(
                &self.source("server.data_dir"),
                "must not be empty".into(),
            ));
        }
        let brand_name = self.string("server.brand_name")?;
        if brand_name.is_empty() || brand_name.len() > 100 {
            return Err(err(
                &self.source("server.brand_name"),
                "must be 1 to 100 characters".into(),
            ));
        }
        let database_url = self.optional("database.url")?;
        if let Some(url) = &database_url {
            if !(url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url.starts_with("sqlite:"))
            {
                return Err(err(
                    &self.source("database.url"),
                    "expected a postgres://, postgresql:// or sqlite:// URL".into(),
                ));
            }
        }
        let admin_api_key = self.optional("auth.admin_api_key")?;
        if admin_api_key.as_ref().is_some_and(|k| k.len() < 16) {
            return Err(err(
                &self.source("auth.admin_api_key"),
                "must be at least 16 characters".into(),
            ));
        }
        let metrics_token = self.optional("metrics.token")?;
        if metrics_token.as_ref().is_some_and(|k| k.len() < 16) {
            return Err(err(
                &self.source("metrics.token"),
                "must be at least 16 characters".into(),
            ));
        }
        let metrics_bind = match self.optional("metrics.bind")? {
            None => None,
            Some(raw) => Some(raw.parse::<SocketAddr>().map_err(|_| {
                err(
                    &self.source("metrics.bind"),
                    format!("expected host:port such as 127.0.0.1:9100, got {raw:?}"),
                )
            })?),
        };
        let smtp_url = self.optional("mail.smtp_url")?;
        if let Some(url) = &smtp_url {
            let ok = Url::parse(url)
                .map(|u| matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some())
                .unwrap_or(false);
            if !ok {
                // Never echo the value: it may hold a password.
                return Err(err(
                    &self.source("mail.smtp_url"),
                    "expected smtp://[user:pass@]host[:port] or smtps://...".into(),
                ));
            }
        }
        let from_raw = self.string("mail.from")?;
        let mail_from = from_raw.parse::<Mailbox>().map_err(|e| {
            err(
                &self.source("mail.from"),
                format!("not a mailbox such as \"Brand <no-reply@example.com>\": {e}"),
            )
        })?;
        let admin_email = match self.optional("network.admin_email")? {
            None => None,
            Some(raw) => {
                let email = crate::domain::email::Email::parse(&raw)
                    .map_err(|m| err(&self.source("network.admin_email"), m.to_string()))?;
                if mail_from
                    .email
                    .to_string()
                    .eq_ignore_ascii_case(email.as_str())
                {
                    return Err(err(
                        &self.source("network.admin_email"),
                        "must be a person's address, not the no-reply sender (MAIL_FROM)".into(),
                    ));
                }
                Some(email.as_str().to_string())
            }
        };
        let encryption_key = match self.optional("secrets.encryption_key")? {
            None => None,
            Some(raw) => Some(Secret::new(parse_key(&raw).ok_or_else(|| {
                err(
                    &self.source("secrets.encryption_key"),
                    "expected 32 bytes as 64 hex characters or base64".into(),
                )
            })?)),
        };
        let log_format = match self.string("log.format")?.to_ascii_lowercase().as_str() {
            "pretty" => LogFormat::Pretty,
            "json" => LogFormat::Json,
            other => {
                return Err(err(
                    &self.source("log.format"),
                    format!("expected \"pretty\" or \"json\", got {other:?}"),
                ));
            }
        };
        let log_filter = self.string("log.filter")?;
        if tracing_subscriber::EnvFilter::try_new(&log_filter).is_err() {
            return Err(err(
                &self.source("log.filter"),
                format!("not a valid tracing filter: {log_filter:?}"),
            ));
        }
        Ok(Config {
            bind,
            public_url,
            data_dir,
            brand_name,
            shutdown_timeout: Duration::from_secs(self.number(
                "server.shutdown_timeout_secs",
                1,
                3600,
            )?),
            trust_proxy: self.boolean("server.trust_proxy")?,
            trusted_proxy_hops: self.number("server.trusted_proxy_hops", 1, 16)? as usize,
            header_read_timeout: Duration::from_secs(self.number(
                "server.header_read_timeout_secs",
                1,
                600,
            )?),
            request_timeout: Duration::from_secs(self.number(
                "server.request_timeout_secs",
                1,
                3600,
            )?),
            body_read_timeout: Duration::from_secs(self.number(
                "server.body_read_timeout_secs",
                1,
                3600,
            )?),
            max_connections: self.number("server.max_connections", 1, 1_000_000)? as usize,
            database_url: database_url.map(Secret::new),
            db_max_connections: self.number("database.max_connections", 1, 1000)? as u32,
            admin_api_key: admin_api_key.map(Secret::new),
            metrics_token: metrics_token.map(Secret::new),
            metrics_bind,
            auth_cache_ttl: Duration::from_secs(self.number("auth.cache_ttl_secs", 0, 60)?),
            auth_cache_capacity: self.number("auth.cache_capacity", 16, 10_000_000)? as usize,
            link_cache_ttl: Duration::from_secs(self.number("links.cache_ttl_secs", 0, 3600)?),
            link_cache_max_bytes: self.number("links.cache_max_bytes", 1 << 16, 1 << 36)?,
            click_commit_timeout: Duration::from_millis(self.number(
                "links.click_commit_timeout_ms",
                10,
                60_000,
            )?),
            click_flush_timeout: Duration::from_secs(self.number(
                "links.click_flush_timeout_secs",
                1,
                300,
            )?),
            smtp_url: smtp_url.map(Secret::new),
            mail_from,
            mail_retry_cron: cron(&self, "mail.retry_cron")?,
            mail_retention: Duration::from_secs(
                self.number("mail.retention_days", 1, 36_500)? * 86_400,
            ),
            cleanup_cron: cron(&self, "cleanup.cron")?,
            network_url: http_url(&self, "network.url")?,
            network_admin_api_key: self.optional("network.admin_api_key")?.map(Secret::new),
            admin_email,
            heartbeat_cron: cron(&self, "network.heartbeat_cron")?,
            outbox_cron: cron(&self, "network.outbox_cron")?,
            network_report_cron: cron(&self, "network.report_cron")?,
            auto_approve_cron: cron(&self, "payouts.auto_approve_cron")?,
            payout_schedule_cron: cron(&self, "payouts.schedule_cron")?,
            payout_retry_cron: cron(&self, "payouts.retry_cron")?,
            backfill_lease: Duration::from_secs(self.number(
                "network.backfill_lease_secs",
                1,
                3600,
            )?),
            encryption_key,
            stripe_livemode: self.stripe_livemode()?,
            stripe_secret_key: self.optional("stripe.secret_key")?.map(Secret::new),
            stripe_api_base: http_url(&self, "stripe.api_base")?,
            stripe_webhook_secrets: Secret::new(
                self.string("stripe.webhook_secret")?
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect(),
            ),
            stripe_events_cron: cron(&self, "stripe.events_cron")?,
            webhooks_allow_private: self.boolean("webhooks.allow_private")?,
            webhook_retention_days: self.number("webhooks.retention_days", 1, 3650)?,
            webhook_cron: cron(&self, "webhooks.cron")?,
            public_rate_per_minute: self.number("rate_limit.public_per_minute", 1, 1_000_000)?
                as u32,
            log_filter,
            log_format,
        })
    }
}
