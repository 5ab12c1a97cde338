//! Typed configuration: `config/default.toml` (compiled in), then the optional file named by
//! `OPENPARTNER_CONFIG`, then environment variables. Every bad setting is reported by the name
//! the operator used for it (the environment variable, or the file key), so start-up can fail
//! with one precise line.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::message::Mailbox;

/// The defaults, compiled into the binary so it runs with no files next to it.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

mod env;
mod layers;
#[cfg(test)]
mod tests;

use env::ENV_MAP;
use layers::Layers;

pub use crate::secrets::Secret;

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
    /// Which mode's Stripe events count (`STRIPE_LIVEMODE`, else the key's mode); `None`:
    /// both (webhooks only, mode unstated).
    pub stripe_livemode: Option<bool>,
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
