//! Logging: `tracing` with the filter and format from the config. Secrets never reach a log
//! line: spans name route templates, not raw paths or queries, and no handler logs a token.
//!
//! Lines are formatted on the request's thread but written by a dedicated thread
//! (tracing-appender), so a slow or busy stdout never holds up a request. The writer blocks
//! instead of dropping when its buffer is full: no log line is lost.

mod json_line;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::{Config, LogFormat};

/// Installs the global subscriber. `to_stderr` keeps stdout clean for CLI output. Keep the
/// returned guard alive until exit: dropping it flushes what is buffered.
pub fn init(config: &Config, to_stderr: bool) -> Option<WorkerGuard> {
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(64 * 1024);
    let (writer, guard) = if to_stderr {
        builder.finish(std::io::stderr())
    } else {
        builder.finish(std::io::stdout())
    };
    let fmt = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    let installed = match config.log_format {
        // Flat lines: the request's fields are on the event itself, no span lists to format.
        LogFormat::Json => fmt.event_format(json_line::JsonLine).try_init(),
        LogFormat::Pretty => fmt.try_init(),
    };
    // A second init (tests) keeps the first subscriber.
    installed.ok().map(|()| guard)
}
