//! Cron expressions as the settings write them: six fields, seconds first.

/// Parses a six-field cron expression (seconds first); `None` when it is not one.
pub fn parse(expr: &str) -> Option<croner::Cron> {
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .build()
        .parse(expr)
        .ok()
}
