//! Logging: `tracing` with the filter and format from the config. Secrets never reach a log
//! line: spans name route templates, not raw paths or queries, and no handler logs a token.

use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. `to_stderr` keeps stdout clean for CLI output.
pub fn init(config: &Config, to_stderr: bool) {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let result = match (config.log_format, to_stderr) {
        (LogFormat::Json, true) => builder.json().with_writer(std::io::stderr).try_init(),
        (LogFormat::Json, false) => builder.json().try_init(),
        (LogFormat::Pretty, true) => builder.with_writer(std::io::stderr).try_init(),
        (LogFormat::Pretty, false) => builder.try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    let _ = result;
}
