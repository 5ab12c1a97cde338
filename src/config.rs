//! Typed configuration: `config/default.toml` (compiled in), then the optional file named by
//! `OPENPARTNER_CONFIG`, then environment variables. Every bad setting is reported by the name
//! the operator used for it (the environment variable, or the file key), so start-up can fail
//! with one precise line.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine;
use lettre::message::Mailbox;
use url::Url;

/// The defaults, compiled into the binary so it runs with no files next to it.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Environment variable → setting path. These names are a public contract.
const ENV_MAP: &[(&str, &str)] = &[
    ("OPENPARTNER_BIND", "server.bind"),
    ("OPENPARTNER_PUBLIC_URL", "server.public_url"),
    ("OPENPARTNER_DATA_DIR", "server.data_dir"),
    ("OPENPARTNER_BRAND_NAME", "server.brand_name"),
    (
        "OPENPARTNER_SHUTDOWN_TIMEOUT_SECS",
        "server.shutdown_timeout_secs",
    ),
    ("OPENPARTNER_TRUST_PROXY", "server.trust_proxy"),
    (
        "OPENPARTNER_TRUSTED_PROXY_HOPS",
        "server.trusted_proxy_hops",
    ),
    (
        "OPENPARTNER_HEADER_READ_TIMEOUT_SECS",
        "server.header_read_timeout_secs",
    ),
    (
        "OPENPARTNER_REQUEST_TIMEOUT_SECS",
        "server.request_timeout_secs",
    ),
    (
        "OPENPARTNER_BODY_READ_TIMEOUT_SECS",
        "server.body_read_timeout_secs",
    ),
    ("OPENPARTNER_MAX_CONNECTIONS", "server.max_connections"),
    ("DATABASE_URL", "database.url"),
    ("OPENPARTNER_DB_MAX_CONNECTIONS", "database.max_connections"),
    ("ADMIN_API_KEY", "auth.admin_api_key"),
    ("OPENPARTNER_AUTH_CACHE_TTL_SECS", "auth.cache_ttl_secs"),
    ("OPENPARTNER_AUTH_CACHE_CAPACITY", "auth.cache_capacity"),
    ("OPENPARTNER_LINK_CACHE_TTL_SECS", "links.cache_ttl_secs"),
    ("OPENPARTNER_LINK_CACHE_MAX_BYTES", "links.cache_max_bytes"),
    (
        "OPENPARTNER_CLICK_COMMIT_TIMEOUT_MS",
        "links.click_commit_timeout_ms",
    ),
    (
        "OPENPARTNER_CLICK_FLUSH_TIMEOUT_SECS",
        "links.click_flush_timeout_secs",
    ),
    ("SMTP_URL", "mail.smtp_url"),
    ("MAIL_FROM", "mail.from"),
    ("OPENPARTNER_MAIL_RETRY_CRON", "mail.retry_cron"),
    ("OPENPARTNER_MAIL_RETENTION_DAYS", "mail.retention_days"),
    ("OPENPARTNER_CLEANUP_CRON", "cleanup.cron"),
    ("NETWORK_URL", "network.url"),
    ("NETWORK_ADMIN_API_KEY", "network.admin_api_key"),
    ("OPENPARTNER_ADMIN_EMAIL", "network.admin_email"),
    ("OPENPARTNER_HEARTBEAT_CRON", "network.heartbeat_cron"),
    ("OPENPARTNER_OUTBOX_CRON", "network.outbox_cron"),
    ("OPENPARTNER_NETWORK_REPORT_CRON", "network.report_cron"),
    ("OPENPARTNER_AUTO_APPROVE_CRON", "payouts.auto_approve_cron"),
    ("OPENPARTNER_PAYOUT_SCHEDULE_CRON", "payouts.schedule_cron"),
    ("OPENPARTNER_PAYOUT_RETRY_CRON", "payouts.retry_cron"),
    (
        "OPENPARTNER_BACKFILL_LEASE_SECS",
        "network.backfill_lease_secs",
    ),
    ("SECRETS_ENCRYPTION_KEY", "secrets.encryption_key"),
    ("STRIPE_SECRET_KEY", "stripe.secret_key"),
    ("STRIPE_API_BASE", "stripe.api_base"),
    ("STRIPE_WEBHOOK_SECRET", "stripe.webhook_secret"),
    ("OPENPARTNER_STRIPE_EVENTS_CRON", "stripe.events_cron"),
    (
        "OPENPARTNER_WEBHOOKS_ALLOW_PRIVATE",
        "webhooks.allow_private",
    ),
    (
        "OPENPARTNER_WEBHOOK_RETENTION_DAYS",
        "webhooks.retention_days",
    ),
    ("OPENPARTNER_WEBHOOK_CRON", "webhooks.cron"),
    (
        "OPENPARTNER_RATE_LIMIT_PER_MINUTE",
        "rate_limit.public_per_minute",
    ),
    ("OPENPARTNER_METRICS_TOKEN", "metrics.token"),
    ("OPENPARTNER_METRICS_BIND", "metrics.bind"),
    ("OPENPARTNER_LOG", "log.filter"),
    ("OPENPARTNER_LOG_FORMAT", "log.format"),
];

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The whole configuration, validated.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    /// Public base URL without a trailing slash.
    pub public_url: String,
    pub data_dir: PathBuf,
    pub brand_name: String,
    pub shutdown_timeout: Duration,
    pub trust_proxy: bool,
    /// With `trust_proxy`: how many proxies of ours append to `X-Forwarded-For`; the client
    /// address is the one the outermost of them appended.
    pub trusted_proxy_hops: usize,
    /// Limits at the socket: see `server.rs`.
    pub header_read_timeout: Duration,
    pub request_timeout: Duration,
    pub body_read_timeout: Duration,
    pub max_connections: usize,
    pub database_url: Option<Secret<String>>,
    pub db_max_connections: u32,
    pub admin_api_key: Option<Secret<String>>,
    pub auth_cache_ttl: Duration,
    pub auth_cache_capacity: usize,
    pub link_cache_ttl: Duration,
    pub link_cache_max_bytes: u64,
    /// How long a redirect waits for its click to be committed before it answers without one.
    pub click_commit_timeout: Duration,
    /// How long a read waits for buffered clicks to be written before it goes on without them.
    pub click_flush_timeout: Duration,
    pub smtp_url: Option<Secret<String>>,
    pub mail_from: Mailbox,
    pub mail_retry_cron: String,
    /// Sent mail is deleted from the outbox (and the outbox directory) after this long.
    pub mail_retention: Duration,
    /// When the daily cleanup runs.
    pub cleanup_cron: String,
    /// Network base URL without a trailing slash.
    pub network_url: String,
    pub network_admin_api_key: Option<Secret<String>>,
    /// The brand administrator's email: the contact the hosted one-click connect gives the
    /// Network when the request names none. Never the no-reply sender.
    pub admin_email: Option<String>,
    pub heartbeat_cron: String,
    pub outbox_cron: String,
    pub network_report_cron: String,
    pub auto_approve_cron: String,
    pub payout_schedule_cron: String,
    pub payout_retry_cron: String,
    pub backfill_lease: Duration,
    pub encryption_key: Option<Secret<[u8; 32]>>,
    /// Without it, payouts are manual and Stripe onboarding answers 503.
    pub stripe_secret_key: Option<Secret<String>>,
    /// Without a trailing slash.
    pub stripe_api_base: String,
    /// Webhook signing secrets (several, comma-separated, while one is rotated).
    pub stripe_webhook_secrets: Secret<Vec<String>>,
    /// When stored Stripe events that are due are processed (each is also tried on arrival).
    pub stripe_events_cron: String,
    /// Webhooks may go to private, loopback, link-local and CGNAT addresses (tests, local
    /// setups); otherwise such URLs are refused when saved and when delivered.
    pub webhooks_allow_private: bool,
    /// Finished webhook deliveries older than this are pruned.
    pub webhook_retention_days: u64,
    /// When the webhook worker looks for due deliveries.
    pub webhook_cron: String,
    pub public_rate_per_minute: u32,
    /// `GET /metrics` on the main listener answers only to this bearer token.
    pub metrics_token: Option<Secret<String>>,
    /// A separate listener serving `/metrics` without auth (keep it private).
    pub metrics_bind: Option<SocketAddr>,
    pub log_filter: String,
    pub log_format: LogFormat,
}

/// One bad setting: `setting` is the name the operator used (env var or file key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub setting: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid setting {}: {}", self.setting, self.message)
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Loads from the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::load(|name| std::env::var(name).ok())
    }

    /// Loads with `env` standing in for the environment (tests pass a map).
    pub fn load(env: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let mut layers = Layers::new()?;
        if let Some(path) = env("OPENPARTNER_CONFIG").filter(|p| !p.is_empty()) {
            layers.merge_file(&path)?;
        }
        for (var, path) in ENV_MAP {
            if let Some(value) = env(var) {
                layers.set(path, toml::Value::String(value), (*var).to_string());
            }
        }
        layers.build()
    }

    /// The SQLite file used when `DATABASE_URL` is unset.
    pub fn default_sqlite_path(&self) -> PathBuf {
        self.data_dir.join("openpartner.db")
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    /// Whether cookies we set must carry `Secure`.
    pub fn public_url_is_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// Flattened settings with the name each value came from.
struct Layers {
    values: BTreeMap<String, (toml::Value, String)>,
}

impl Layers {
    fn new() -> Result<Self, ConfigError> {
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

    fn merge_file(&mut self, path: &str) -> Result<(), ConfigError> {
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

    fn set(&mut self, path: &str, value: toml::Value, source: String) {
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

    fn source(&self, path: &str) -> String {
        self.raw(path).1.to_string()
    }

    fn build(self) -> Result<Config, ConfigError> {
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

fn err(setting: &str, message: String) -> ConfigError {
    ConfigError {
        setting: setting.to_string(),
        message,
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut impl FnMut(String, toml::Value)) {
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

fn http_url(layers: &Layers, path: &str) -> Result<String, ConfigError> {
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

fn cron(layers: &Layers, path: &str) -> Result<String, ConfigError> {
    let expr = layers.string(path)?;
    crate::jobs::validate_cron(&expr)
        .map(|()| expr.clone())
        .map_err(|e| {
            err(
                &layers.source(path),
                format!("not a cron expression (sec min hour day month weekday): {e}"),
            )
        })
}

/// 32 bytes from 64 hex characters or standard/URL-safe base64.
fn parse_key(raw: &str) -> Option<[u8; 32]> {
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

#[cfg(test)]
mod tests {
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
}
