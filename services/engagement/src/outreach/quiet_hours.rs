//! Quiet hours in the recipient's local time.
//!
//! The recipient's zone is the lead's IANA time zone, else one derived from
//! its ISO 3166-1 country code ([`tz_for_country`]: the zone most of the
//! country's population lives in), else the workspace default
//! ([`recipient_tz`]). [`next_allowed`] moves a due time out of the quiet
//! window, reading wall-clock times in that zone, so it stays right across
//! DST changes and for half-hour offsets.

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta};
use chrono::{TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[cfg(test)]
mod tests;

/// When outreach must not reach the recipient, in their local wall-clock time.
///
/// `start..end` is quiet; when `end <= start` the window wraps midnight
/// (the default, 21:00–08:00, is quiet from 21:00 until 08:00 the next
/// morning). `start == end` means no quiet hours. With `weekends`,
/// Saturdays and Sundays are quiet all day as well.
///
/// JSON: `{"start": "21:00:00", "end": "08:00:00", "weekends": false}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietWindow {
    /// First quiet minute (local).
    pub start: NaiveTime,
    /// First allowed minute after the window (local).
    pub end: NaiveTime,
    /// Saturdays and Sundays are quiet all day.
    #[serde(default)]
    pub weekends: bool,
}

impl Default for QuietWindow {
    /// 21:00–08:00, weekends allowed.
    fn default() -> Self {
        Self {
            start: NaiveTime::from_hms_opt(21, 0, 0).unwrap_or(NaiveTime::MIN),
            end: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or(NaiveTime::MIN),
            weekends: false,
        }
    }
}

impl QuietWindow {
    /// A window from `start` to `end` (local), optionally with weekends quiet.
    pub const fn new(start: NaiveTime, end: NaiveTime, weekends: bool) -> Self {
        Self {
            start,
            end,
            weekends,
        }
    }

    /// Whether the local wall-clock time `local` is quiet.
    pub fn is_quiet(&self, local: NaiveDateTime) -> bool {
        if self.weekends && is_weekend(local.date()) {
            return true;
        }
        self.in_window(local.time())
    }

    fn in_window(&self, t: NaiveTime) -> bool {
        if self.start == self.end {
            false
        } else if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            t >= self.start || t < self.end
        }
    }

    /// The first local time at or after `local` that is not quiet by this
    /// rule alone (ignoring DST: callers map it to an instant).
    fn next_local(&self, local: NaiveDateTime) -> NaiveDateTime {
        let date = local.date();
        if self.weekends && is_weekend(date) {
            let monday = next_weekday(date, Weekday::Mon);
            return monday.and_time(NaiveTime::MIN);
        }
        if !self.in_window(local.time()) {
            return local;
        }
        // Quiet: the window ends today, unless it wraps and we are in its
        // evening part, when it ends tomorrow.
        if self.start > self.end && local.time() >= self.start {
            date.succ_opt().unwrap_or(date).and_time(self.end)
        } else {
            date.and_time(self.end)
        }
    }
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

fn next_weekday(date: NaiveDate, day: Weekday) -> NaiveDate {
    let ahead = (7 + day.num_days_from_monday() - date.weekday().num_days_from_monday()) % 7;
    let ahead = if ahead == 0 { 7 } else { ahead };
    date.checked_add_signed(TimeDelta::days(i64::from(ahead)))
        .unwrap_or(date)
}

/// The first instant at or after `now` that is outside `window` in zone
/// `tz`: `now` itself when it is allowed, else the start of the next allowed
/// local period converted to UTC.
///
/// Across DST: a local time that falls in a spring-forward gap maps to the
/// first valid instant after the gap (the transition itself); one that
/// occurs twice on a fall-back night maps to its first occurrence.
pub fn next_allowed(now: DateTime<Utc>, tz: Tz, window: &QuietWindow) -> DateTime<Utc> {
    let mut at = now;
    // Each round moves past one quiet period (a weekend, then a window);
    // a handful of rounds covers every combination with room to spare.
    for _ in 0..8 {
        let local = at.with_timezone(&tz).naive_local();
        if !window.is_quiet(local) {
            return at;
        }
        at = to_instant(tz, window.next_local(local), at);
    }
    at
}

/// Maps a local wall-clock time in `tz` to the first instant not before
/// `not_before` that shows it (see [`next_allowed`] for gaps and repeats).
fn to_instant(tz: Tz, local: NaiveDateTime, not_before: DateTime<Utc>) -> DateTime<Utc> {
    let mut candidate = local;
    // Gaps are whole minutes and at most a few hours long; a day of steps is
    // far more than any zone needs.
    for _ in 0..=(24 * 60) {
        match tz.from_local_datetime(&candidate) {
            LocalResult::Single(t) => return t.with_timezone(&Utc).max(not_before),
            LocalResult::Ambiguous(first, second) => {
                let first = first.with_timezone(&Utc);
                let second = second.with_timezone(&Utc);
                return if first >= not_before {
                    first
                } else {
                    second.max(not_before)
                };
            }
            // In a spring-forward gap: try the next whole minute.
            LocalResult::None => {
                let minute = candidate
                    .with_second(0)
                    .and_then(|c| c.with_nanosecond(0))
                    .unwrap_or(candidate);
                candidate = minute + TimeDelta::minutes(1);
            }
        }
    }
    // Unreachable for real zones; read the time as UTC rather than fail.
    local.and_utc().max(not_before)
}

/// The recipient's zone: the lead's IANA zone when it parses, else the
/// zone of its country ([`tz_for_country`]), else `workspace_default`.
pub fn recipient_tz(lead_tz: Option<&str>, country: Option<&str>, workspace_default: Tz) -> Tz {
    lead_tz
        .and_then(|name| name.trim().parse::<Tz>().ok())
        .or_else(|| country.and_then(tz_for_country))
        .unwrap_or(workspace_default)
}

/// The zone where most of a country's population lives, by ISO 3166-1
/// alpha-2 code (any case); `None` for countries not in the table.
pub fn tz_for_country(code: &str) -> Option<Tz> {
    use chrono_tz::{Africa, America, Asia, Australia, Europe, Pacific};
    let code = code.trim().to_ascii_uppercase();
    let tz = match code.as_str() {
        // Americas
        "US" => America::New_York,
        "CA" => America::Toronto,
        "MX" => America::Mexico_City,
        "BR" => America::Sao_Paulo,
        "AR" => America::Argentina::Buenos_Aires,
        "CL" => America::Santiago,
        "CO" => America::Bogota,
        "PE" => America::Lima,
        // Europe
        "GB" | "UK" => Europe::London,
        "IE" => Europe::Dublin,
        "DE" => Europe::Berlin,
        "FR" => Europe::Paris,
        "ES" => Europe::Madrid,
        "PT" => Europe::Lisbon,
        "IT" => Europe::Rome,
        "NL" => Europe::Amsterdam,
        "BE" => Europe::Brussels,
        "LU" => Europe::Luxembourg,
        "CH" => Europe::Zurich,
        "AT" => Europe::Vienna,
        "DK" => Europe::Copenhagen,
        "SE" => Europe::Stockholm,
        "NO" => Europe::Oslo,
        "FI" => Europe::Helsinki,
        "PL" => Europe::Warsaw,
        "CZ" => Europe::Prague,
        "HU" => Europe::Budapest,
        "RO" => Europe::Bucharest,
        "GR" => Europe::Athens,
        "UA" => Europe::Kyiv,
        "TR" => Europe::Istanbul,
        "RU" => Europe::Moscow,
        // Middle East and Africa
        "IL" => Asia::Jerusalem,
        "AE" => Asia::Dubai,
        "SA" => Asia::Riyadh,
        "EG" => Africa::Cairo,
        "NG" => Africa::Lagos,
        "KE" => Africa::Nairobi,
        "ZA" => Africa::Johannesburg,
        // Asia and Oceania
        "IN" => Asia::Kolkata,
        "PK" => Asia::Karachi,
        "BD" => Asia::Dhaka,
        "CN" => Asia::Shanghai,
        "HK" => Asia::Hong_Kong,
        "TW" => Asia::Taipei,
        "JP" => Asia::Tokyo,
        "KR" => Asia::Seoul,
        "SG" => Asia::Singapore,
        "MY" => Asia::Kuala_Lumpur,
        "TH" => Asia::Bangkok,
        "VN" => Asia::Ho_Chi_Minh,
        "ID" => Asia::Jakarta,
        "PH" => Asia::Manila,
        "AU" => Australia::Sydney,
        "NZ" => Pacific::Auckland,
        _ => return None,
    };
    Some(tz)
}
