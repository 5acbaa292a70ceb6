use chrono::{DateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::{America, Asia, Australia, Europe, Tz};
use proptest::prelude::*;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid UTC time")
}

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("valid time")
}

const NY: Tz = America::New_York;

#[test]
fn default_window_is_21_to_8_without_weekends() {
    let w = QuietWindow::default();
    assert_eq!((w.start, w.end, w.weekends), (hm(21, 0), hm(8, 0), false));
    let json = serde_json::to_value(w).expect("serialise");
    assert_eq!(
        json,
        serde_json::json!({"start": "21:00:00", "end": "08:00:00", "weekends": false})
    );
    let back: QuietWindow =
        serde_json::from_str(r#"{"start":"22:30:00","end":"07:00:00"}"#).expect("parse");
    assert_eq!(back, QuietWindow::new(hm(22, 30), hm(7, 0), false));
}

#[test]
fn allowed_time_is_returned_unchanged() {
    // 14:00 EDT.
    let now = utc(2025, 6, 10, 18, 0);
    assert_eq!(next_allowed(now, NY, &QuietWindow::default()), now);
}

#[test]
fn window_edges_start_quiet_and_end_allowed() {
    let w = QuietWindow::default();
    // 08:00 EDT is allowed, 07:59 is not; 20:59 is allowed, 21:00 is not.
    assert_eq!(
        next_allowed(utc(2025, 6, 10, 12, 0), NY, &w),
        utc(2025, 6, 10, 12, 0)
    );
    assert_eq!(
        next_allowed(utc(2025, 6, 10, 11, 59), NY, &w),
        utc(2025, 6, 10, 12, 0)
    );
    assert_eq!(
        next_allowed(utc(2025, 6, 11, 0, 59), NY, &w),
        utc(2025, 6, 11, 0, 59)
    );
    assert_eq!(
        next_allowed(utc(2025, 6, 11, 1, 0), NY, &w),
        utc(2025, 6, 11, 12, 0)
    );
}

#[test]
fn step_due_at_23_30_local_moves_to_08_00_next_day() {
    // 2025-06-10 23:30 EDT = 2025-06-11 03:30Z → 2025-06-11 08:00 EDT = 12:00Z.
    let now = utc(2025, 6, 11, 3, 30);
    assert_eq!(
        next_allowed(now, NY, &QuietWindow::default()),
        utc(2025, 6, 11, 12, 0)
    );
    // After midnight, the window ends the same local day.
    let early = utc(2025, 6, 11, 6, 0); // 02:00 EDT
    assert_eq!(
        next_allowed(early, NY, &QuietWindow::default()),
        utc(2025, 6, 11, 12, 0)
    );
}

#[test]
fn spring_forward_night_uses_the_new_offset() {
    // 2025-03-09 02:00 EST → 03:00 EDT. 23:30 EST on the 8th = 04:30Z on the 9th.
    let w = QuietWindow::default();
    assert_eq!(
        next_allowed(utc(2025, 3, 9, 4, 30), NY, &w),
        utc(2025, 3, 9, 12, 0)
    );
    // 01:30 EST, just before the gap.
    assert_eq!(
        next_allowed(utc(2025, 3, 9, 6, 30), NY, &w),
        utc(2025, 3, 9, 12, 0)
    );
}

#[test]
fn a_window_ending_in_the_gap_ends_at_the_transition() {
    // Quiet 22:00–02:30; 02:30 does not exist on 2025-03-09 in New York, so
    // the first allowed instant is 03:00 EDT = 07:00Z.
    let w = QuietWindow::new(hm(22, 0), hm(2, 30), false);
    assert_eq!(
        next_allowed(utc(2025, 3, 9, 4, 0), NY, &w),
        utc(2025, 3, 9, 7, 0)
    );
}

#[test]
fn fall_back_night_uses_the_old_offset_after_the_change() {
    // 2025-11-02 02:00 EDT → 01:00 EST. 23:30 EDT on the 1st = 03:30Z on the 2nd;
    // 08:00 EST = 13:00Z.
    let w = QuietWindow::default();
    assert_eq!(
        next_allowed(utc(2025, 11, 2, 3, 30), NY, &w),
        utc(2025, 11, 2, 13, 0)
    );
    // 01:30 EST, the second 01:30 of the night.
    assert_eq!(
        next_allowed(utc(2025, 11, 2, 6, 30), NY, &w),
        utc(2025, 11, 2, 13, 0)
    );
}

#[test]
fn a_window_ending_in_the_repeated_hour_never_goes_back() {
    // Quiet 22:00–01:30. From 00:30 EDT the first 01:30 (EDT, 05:30Z) is next.
    let w = QuietWindow::new(hm(22, 0), hm(1, 30), false);
    assert_eq!(
        next_allowed(utc(2025, 11, 2, 4, 30), NY, &w),
        utc(2025, 11, 2, 5, 30)
    );
    // From 01:10 EST (after the change) it is the second 01:30 (EST, 06:30Z).
    assert_eq!(
        next_allowed(utc(2025, 11, 2, 6, 10), NY, &w),
        utc(2025, 11, 2, 6, 30)
    );
}

#[test]
fn half_hour_offsets_are_respected() {
    // Asia/Kolkata is UTC+05:30. 22:00 IST = 16:30Z → 08:00 IST = 02:30Z.
    let w = QuietWindow::default();
    let kolkata = Asia::Kolkata;
    assert_eq!(
        next_allowed(utc(2025, 6, 1, 16, 30), kolkata, &w),
        utc(2025, 6, 2, 2, 30)
    );
    // 07:59 IST = 02:29Z → 02:30Z; 08:00 IST is allowed.
    assert_eq!(
        next_allowed(utc(2025, 6, 2, 2, 29), kolkata, &w),
        utc(2025, 6, 2, 2, 30)
    );
    assert_eq!(
        next_allowed(utc(2025, 6, 2, 2, 30), kolkata, &w),
        utc(2025, 6, 2, 2, 30)
    );
}

#[test]
fn a_window_within_one_day_ends_the_same_day() {
    let lunch = QuietWindow::new(hm(12, 0), hm(13, 0), false);
    let berlin = Europe::Berlin; // CEST, UTC+2, in June
    assert_eq!(
        next_allowed(utc(2025, 6, 10, 10, 30), berlin, &lunch),
        utc(2025, 6, 10, 11, 0)
    );
    assert_eq!(
        next_allowed(utc(2025, 6, 10, 9, 59), berlin, &lunch),
        utc(2025, 6, 10, 9, 59)
    );
    let none = QuietWindow::new(hm(9, 0), hm(9, 0), false);
    assert_eq!(
        next_allowed(utc(2025, 6, 10, 7, 0), berlin, &none),
        utc(2025, 6, 10, 7, 0)
    );
}

#[test]
fn quiet_weekends_move_to_monday_morning() {
    let w = QuietWindow {
        weekends: true,
        ..QuietWindow::default()
    };
    let berlin = Europe::Berlin;
    // Friday 2025-06-06 22:00 CEST → Monday 2025-06-09 08:00 CEST = 06:00Z.
    assert_eq!(
        next_allowed(utc(2025, 6, 6, 20, 0), berlin, &w),
        utc(2025, 6, 9, 6, 0)
    );
    // Saturday noon and Sunday 23:00 as well.
    assert_eq!(
        next_allowed(utc(2025, 6, 7, 10, 0), berlin, &w),
        utc(2025, 6, 9, 6, 0)
    );
    assert_eq!(
        next_allowed(utc(2025, 6, 8, 21, 0), berlin, &w),
        utc(2025, 6, 9, 6, 0)
    );
    // A weekday afternoon is untouched; without the flag Saturday noon is fine.
    assert_eq!(
        next_allowed(utc(2025, 6, 6, 12, 0), berlin, &w),
        utc(2025, 6, 6, 12, 0)
    );
    let weekdays_only = QuietWindow::default();
    assert_eq!(
        next_allowed(utc(2025, 6, 7, 10, 0), berlin, &weekdays_only),
        utc(2025, 6, 7, 10, 0)
    );
}

#[test]
fn recipient_zone_prefers_lead_then_country_then_default() {
    let default = Europe::London;
    assert_eq!(
        recipient_tz(Some("Asia/Tokyo"), Some("US"), default),
        Asia::Tokyo
    );
    assert_eq!(recipient_tz(Some("Mars/Olympus"), Some("us"), default), NY);
    assert_eq!(recipient_tz(None, Some(" in "), default), Asia::Kolkata);
    assert_eq!(recipient_tz(None, Some("XX"), default), default);
    assert_eq!(recipient_tz(None, None, default), default);
}

#[test]
fn country_table_picks_the_most_populous_zone() {
    assert_eq!(tz_for_country("US"), Some(NY));
    assert_eq!(tz_for_country("AU"), Some(Australia::Sydney));
    assert_eq!(tz_for_country("BR"), Some(America::Sao_Paulo));
    assert_eq!(tz_for_country("de"), Some(Europe::Berlin));
    assert_eq!(tz_for_country("ZZ"), None);
    assert_eq!(tz_for_country(""), None);
}

const ZONES: [Tz; 8] = [
    America::New_York,
    America::Sao_Paulo,
    Europe::Berlin,
    Asia::Kolkata,
    Asia::Kathmandu,
    Australia::Lord_Howe, // 30-minute DST shift
    Australia::Sydney,
    chrono_tz::Pacific::Chatham,
];

proptest! {
    #[test]
    fn next_allowed_is_the_first_allowed_instant(
        secs in 1_577_836_800i64..1_893_456_000, // 2020..2030
        zone in 0..ZONES.len(),
        start in 0u32..1440,
        end in 0u32..1440,
        weekends in any::<bool>(),
    ) {
        let tz = ZONES[zone];
        let w = QuietWindow::new(hm(start / 60, start % 60), hm(end / 60, end % 60), weekends);
        let now = DateTime::from_timestamp(secs, 0).expect("in range");
        let next = next_allowed(now, tz, &w);
        let quiet = |t: DateTime<Utc>| w.is_quiet(t.with_timezone(&tz).naive_local());
        prop_assert!(next >= now);
        prop_assert!(!quiet(next), "{next} is quiet");
        prop_assert!(next - now <= TimeDelta::days(4));
        if next > now {
            prop_assert!(quiet(now));
            prop_assert!(quiet(next - TimeDelta::seconds(1)), "{next} is not the first");
        }
    }
}
