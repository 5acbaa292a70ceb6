use chrono::{DateTime, TimeZone, Utc};
use suite_config::RedisSettings;
use suite_domain::LeadId;
use suite_store::Redis;

use super::*;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid UTC time")
}

fn redis() -> Redis {
    let settings = RedisSettings {
        key_prefix: "p:".into(),
        ..RedisSettings::default()
    };
    Redis::connect(&settings).expect("no I/O happens here")
}

#[test]
fn keys_share_the_lead_hash_tag_and_name_utc_windows() {
    let lead = LeadId::parse("0190c6c1-0000-7000-8000-000000000001").expect("uuid");
    // Sunday 2025-06-01 23:59 UTC is in ISO week 22.
    let [day, week] = window_keys(&redis(), lead, Channel::Email, utc(2025, 6, 1, 23, 59));
    let tag = "p:{lead:0190c6c1-0000-7000-8000-000000000001}";
    assert_eq!(day, format!("{tag}:cap:email:d:2025-06-01"));
    assert_eq!(week, format!("{tag}:cap:email:w:2025-W22"));
    // One minute later it is Monday: a new day and a new week.
    let [day, week] = window_keys(&redis(), lead, Channel::Sms, utc(2025, 6, 2, 0, 0));
    assert_eq!(day, format!("{tag}:cap:sms:d:2025-06-02"));
    assert_eq!(week, format!("{tag}:cap:sms:w:2025-W23"));
    // ISO years: 2024-12-30 belongs to 2025-W01.
    let [_, week] = window_keys(&redis(), lead, Channel::Phone, utc(2024, 12, 30, 12, 0));
    assert_eq!(week, format!("{tag}:cap:phone:w:2025-W01"));
}

#[test]
fn retry_times_are_the_next_utc_day_and_iso_week() {
    assert_eq!(
        next_day_start(utc(2025, 6, 4, 13, 30)),
        utc(2025, 6, 5, 0, 0)
    );
    assert_eq!(
        next_day_start(utc(2025, 12, 31, 23, 59)),
        utc(2026, 1, 1, 0, 0)
    );
    // Wednesday → next Monday; Monday 00:00 → the Monday after; Sunday → tomorrow.
    assert_eq!(
        next_week_start(utc(2025, 6, 4, 13, 30)),
        utc(2025, 6, 9, 0, 0)
    );
    assert_eq!(
        next_week_start(utc(2025, 6, 2, 0, 0)),
        utc(2025, 6, 9, 0, 0)
    );
    assert_eq!(
        next_week_start(utc(2025, 6, 8, 23, 59)),
        utc(2025, 6, 9, 0, 0)
    );
}

#[test]
fn limits_and_reservations_serialise() {
    let limits: CapLimits = serde_json::from_str(r#"{"per_day":1,"per_week":2}"#).expect("parse");
    assert_eq!(
        limits,
        CapLimits {
            per_day: 1,
            per_week: 2
        }
    );
    assert_eq!(
        CapLimits::default(),
        CapLimits {
            per_day: 3,
            per_week: 10
        }
    );
    let reservation = CapReservation {
        lead_id: LeadId::new(),
        channel: Channel::Email,
        token: "a:b:0:email".into(),
        reserved_at: utc(2025, 6, 4, 13, 30),
    };
    let json = serde_json::to_string(&reservation).expect("serialise");
    let back: CapReservation = serde_json::from_str(&json).expect("parse");
    assert_eq!(back, reservation);
}
