//! The JSON log line, written by hand (see [`JsonLine`]).

use std::fmt::{self, Write as _};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The JSON log line, written by hand: `{"timestamp","level",<the event's fields>,"target"}`,
/// the shape tracing-subscriber's flattened JSON formatter wrote. Its formatter went through
/// serde_json and an `io::Write` adaptor that checks UTF-8 on every chunk: a quarter of a
/// `GET /health`'s instructions (docs/performance.md). Here strings go straight into the line,
/// escaped as JSON requires.
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // Events from the `log` crate (rustls, reqwest, sqlx) carry their real target here, as
        // tracing-subscriber's own formatters show them, not `log`.
        let normalized = tracing_log::NormalizeEvent::normalized_metadata(event);
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        w.write_str("{\"timestamp\":\"")?;
        write_timestamp(&mut w, SystemTime::now())?;
        w.write_str("\",\"level\":\"")?;
        w.write_str(meta.level().as_str())?;
        w.write_char('"')?;
        let mut fields = Fields {
            w: &mut w,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        w.write_str(",\"target\":")?;
        write_string(&mut w, meta.target())?;
        w.write_str("}\n")
    }
}

/// RFC 3339 in UTC with microseconds, as tracing-subscriber's default timer writes it.
fn write_timestamp(w: &mut impl fmt::Write, now: SystemTime) -> fmt::Result {
    // Never a panic in the logger: a clock before 1970 or past chrono's range writes the epoch.
    let since = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let t = i64::try_from(since.as_secs())
        .ok()
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, since.subsec_nanos()))
        .unwrap_or_default();
    let (date, time) = (t.date_naive(), t.time());
    use chrono::{Datelike, Timelike};
    let mut buf = [0u8; 26];
    let digits = |buf: &mut [u8], at: usize, width: usize, mut v: u32| {
        for i in (0..width).rev() {
            buf[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    digits(&mut buf, 0, 4, date.year().clamp(0, 9999) as u32);
    buf[4] = b'-';
    digits(&mut buf, 5, 2, date.month());
    buf[7] = b'-';
    digits(&mut buf, 8, 2, date.day());
    buf[10] = b'T';
    digits(&mut buf, 11, 2, time.hour());
    buf[13] = b':';
    digits(&mut buf, 14, 2, time.minute());
    buf[16] = b':';
    // A leap second shows as :60, as RFC 3339 allows.
    digits(
        &mut buf,
        17,
        2,
        time.second() + time.nanosecond() / 1_000_000_000,
    );
    buf[19] = b'.';
    digits(&mut buf, 20, 6, (time.nanosecond() % 1_000_000_000) / 1_000);
    w.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)?;
    w.write_char('Z')
}

/// A JSON string: quoted, with `"`, `\` and control characters escaped.
fn write_string(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    Escaped(w).write_str(s)?;
    w.write_char('"')
}

/// Escapes what is written through it, so `Display`/`Debug` output streams into a JSON string
/// without an intermediate `String`.
struct Escaped<'a, W: fmt::Write>(&'a mut W);

impl<W: fmt::Write> fmt::Write for Escaped<'_, W> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut start = 0;
        for (i, b) in s.bytes().enumerate() {
            let escape = match b {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0..=0x1f | 0x7f => "",
                _ => continue,
            };
            self.0.write_str(&s[start..i])?;
            if escape.is_empty() {
                write!(self.0, "\\u{b:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            start = i + 1;
        }
        self.0.write_str(&s[start..])
    }
}

/// The event's fields as `,"name":value` pairs.
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn pair(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            self.w.write_char(',')?;
            write_string(self.w, field.name())?;
            self.w.write_char(':')?;
            value(self.w)
        })();
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.pair(field, |w| write_string(w, value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.pair(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value:?}")?;
            w.write_char('"')
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.pair(field, |w| write!(w, "{value}"));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.pair(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.pair(field, |w| w.write_str(if value { "true" } else { "false" }));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        // As serde_json writes numbers (`2.0`, `1e21`), so typed log pipelines see a float;
        // JSON has no NaN or infinity.
        self.pair(field, |w| match value.is_finite() {
            true => w.write_str(ryu::Buffer::new().format_finite(value)),
            false => w.write_str("null"),
        });
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        // Streamed: an error whose Display fails ends the line, never panics the caller.
        self.pair(field, |w| {
            w.write_char('"')?;
            write!(Escaped(w), "{value}")?;
            w.write_char('"')
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_are_json_with_every_field() {
        let buf = Buf::default();
        let sink = buf.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(JsonLine)
            .with_writer(move || sink.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let method = "GET";
            tracing::info!(%method, route = "/r/{key}", status = 200u16, latency_ms = 1.25, whole = 2.0,
                nan = f64::NAN, ok = true, delta = -3i64,
                text = "q\"b\\s\nl\u{1}é\u{7f}", "request");
            tracing::error!(error = %"boom: \"x\"", "request {}", 7);
        });
        let out = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{out}");
        let a = &lines[0];
        chrono::DateTime::parse_from_rfc3339(a["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(a["timestamp"].as_str().unwrap().len(), 27);
        assert_eq!(a["level"], "INFO");
        assert_eq!(a["message"], "request");
        assert_eq!(a["method"], "GET");
        assert_eq!(a["route"], "/r/{key}");
        assert_eq!(a["status"], 200);
        assert_eq!(a["latency_ms"], 1.25);
        assert!(out.contains(r#""whole":2.0"#), "{out}");
        assert_eq!(a["nan"], serde_json::Value::Null);
        assert_eq!(a["ok"], true);
        assert_eq!(a["delta"], -3);
        assert_eq!(a["text"], "q\"b\\s\nl\u{1}é\u{7f}");
        assert_eq!(a["target"], module_path!());
        assert_eq!(lines[1]["level"], "ERROR");
        assert_eq!(lines[1]["message"], "request 7");
        assert_eq!(lines[1]["error"], "boom: \"x\"");
    }

    #[test]
    fn timestamps_are_rfc3339_microseconds() {
        let t = SystemTime::UNIX_EPOCH + std::time::Duration::from_nanos(1_765_081_914_123_456_789);
        let mut s = String::new();
        write_timestamp(&mut s, t).unwrap();
        assert_eq!(s, "2025-12-07T04:31:54.123456Z");
    }
}
