//! The log line: tracing's default layout, made cheaply.
//!
//! tracing-subscriber's formatter was 13 % of a select's CPU at one info line per request
//! (field values through `Debug`, the timestamp recomputed from scratch each time). This
//! one writes the same layout — `2026-11-28T15:46:21.678744Z  INFO sq::api: request
//! tenant="t1" status=200` — with the date part of the timestamp computed once per second
//! and plain strings quoted without the `Debug` machinery. Strings that need escaping still
//! go through `Debug`, and line breaks in messages and other values are written as `\n` and
//! `\r`, so no value can start a forged log line.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as `<RFC 3339 UTC time> <LEVEL> <target>: <message> <field>=<value>…`.
pub struct LineFormat;

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_timestamp(&mut writer, SystemTime::now())?;
        let metadata = event.metadata();
        writer.write_str(match *metadata.level() {
            tracing::Level::ERROR => " ERROR ",
            tracing::Level::WARN => "  WARN ",
            tracing::Level::INFO => "  INFO ",
            tracing::Level::DEBUG => " DEBUG ",
            tracing::Level::TRACE => " TRACE ",
        })?;
        writer.write_str(metadata.target())?;
        writer.write_str(":")?;
        let mut fields = Fields {
            writer: &mut writer,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// Writes each field as ` name=value`, the message as ` text`.
struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    fn write(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        self.result = (|| {
            self.writer.write_char(' ')?;
            if field.name() != "message" {
                self.writer.write_str(field.name())?;
                self.writer.write_char('=')?;
            }
            value(self.writer)
        })();
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let is_message = field.name() == "message";
        self.write(field, |w| {
            if is_message {
                OneLine(w).write_str(value)
            } else if value
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
            {
                w.write_char('"')?;
                w.write_str(value)?;
                w.write_char('"')
            } else {
                write!(w, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.write(field, |w| write!(w, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.write(field, |w| write!(w, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.write(field, |w| write!(w, "{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Messages and `%` values arrive here, formatted from anything.
        self.write(field, |w| write!(OneLine(w), "{value:?}"));
    }
}

/// Passes text through with CR and LF escaped.
struct OneLine<'a, W>(&'a mut W);

impl<W: fmt::Write> fmt::Write for OneLine<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(['\n', '\r']) {
            self.0.write_str(&rest[..at])?;
            self.0.write_str(if rest.as_bytes()[at] == b'\n' {
                "\\n"
            } else {
                "\\r"
            })?;
            rest = &rest[at + 1..];
        }
        self.0.write_str(rest)
    }
}

thread_local! {
    /// The second last formatted on this thread and its `YYYY-MM-DDTHH:MM:SS` text.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Writes `time` as `YYYY-MM-DDTHH:MM:SS.uuuuuuZ`.
fn write_timestamp(writer: &mut impl fmt::Write, time: SystemTime) -> fmt::Result {
    let since_epoch = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since_epoch.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != seconds {
            let text = &mut cached.1;
            text.clear();
            let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
            let in_day = seconds % 86_400;
            write!(
                text,
                "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
                in_day / 3600,
                in_day / 60 % 60,
                in_day % 60
            )?;
            cached.0 = seconds;
        }
        writer.write_str(&cached.1)
    })?;
    write!(writer, ".{:06}Z", since_epoch.subsec_micros())
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn stamp(seconds: u64, micros: u32) -> String {
        let mut out = String::new();
        let time = UNIX_EPOCH + Duration::from_secs(seconds) + Duration::from_micros(micros.into());
        write_timestamp(&mut out, time).unwrap();
        out
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        assert_eq!(stamp(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(stamp(951_782_400, 5), "2000-02-29T00:00:00.000005Z");
        assert_eq!(stamp(1_795_879_581, 678_744), "2026-11-28T15:26:21.678744Z");
        // The cached second is replaced when the second changes, in either direction.
        assert_eq!(stamp(1_795_879_582, 1), "2026-11-28T15:26:22.000001Z");
        assert_eq!(stamp(4_107_542_399, 999_999), "2100-02-28T23:59:59.999999Z");
    }

    #[test]
    fn days_agree_with_a_day_by_day_count() {
        let (mut year, mut month, mut day) = (1970i64, 1u32, 1u32);
        for days in 0..(200 * 366) {
            assert_eq!(civil_from_days(days), (year, month, day), "day {days}");
            let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
            let length = match month {
                2 if leap => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            day += 1;
            if day > length {
                day = 1;
                month += 1;
                if month > 12 {
                    month = 1;
                    year += 1;
                }
            }
        }
    }

    /// The whole line, through a real subscriber, as tracing's default would write it.
    #[test]
    fn lines_match_the_default_layout_and_escape_what_needs_it() {
        #[derive(Clone, Default)]
        struct Buffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buffer {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let buffer = Buffer::default();
        let output = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .event_format(LineFormat)
            .with_writer(move || output.clone())
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(tenant = "t-1", status = 200u16, micros = 12u64, "request");
            tracing::warn!(tenant = "evil\n2026 INFO forged", "config: odd");
            let error = std::io::Error::other("disk on fire");
            tracing::error!(%error, "storage failure");
            let key = "k\r\n2026 INFO forged";
            tracing::warn!("config: tenant {key}");
        });
        let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        // Each line: a 27-character timestamp, a space, then the rest.
        let rest: Vec<&str> = text.lines().map(|line| &line[28..]).collect();
        assert_eq!(
            rest,
            [
                " INFO sq::cli::log_format::tests: request tenant=\"t-1\" status=200 micros=12",
                " WARN sq::cli::log_format::tests: config: odd tenant=\"evil\\n2026 INFO forged\"",
                "ERROR sq::cli::log_format::tests: storage failure error=disk on fire",
                " WARN sq::cli::log_format::tests: config: tenant k\\r\\n2026 INFO forged",
            ]
        );
        assert!(
            text.lines().all(|line| line.as_bytes()[26] == b'Z'),
            "{text}"
        );
    }
}
