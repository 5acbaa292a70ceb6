//! Frequency caps against the real Redis cluster of the local stack.

use chrono::{DateTime, TimeZone, Utc};
use engagement::outreach::caps::{self, next_day_start, CapLimits};
use engagement::outreach::Channel;
use suite_domain::LeadId;
use suite_store::Redis;
use suite_testkit::TestEnv;

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("valid UTC time")
}

async fn redis() -> anyhow::Result<Redis> {
    let env = TestEnv::new("engagement").await?;
    let mut settings = env.settings.redis.clone();
    // Enough connections for real concurrency, and slack for a busy 2-core machine.
    settings.pool_size = 16;
    settings.command_timeout_ms = 5_000;
    Ok(Redis::connect(&settings)?)
}

#[tokio::test]
async fn fifty_concurrent_attempts_across_two_campaigns_allow_exactly_three() -> anyhow::Result<()>
{
    let redis = redis().await?;
    let lead = LeadId::new();
    let now = utc(2025, 6, 4, 15, 0);
    let limits = CapLimits {
        per_day: 3,
        per_week: 10,
    };
    let attempts = (0..50).map(|i| {
        let redis = redis.clone();
        let campaign = if i % 2 == 0 {
            "campaign-a"
        } else {
            "campaign-b"
        };
        let token = format!("{lead}:{campaign}:{i}:email");
        tokio::spawn(async move {
            caps::reserve(&redis, lead, Channel::Email, &token, now, limits).await
        })
    });
    let mut allowed = 0;
    for attempt in futures::future::join_all(attempts).await {
        let decision = attempt??;
        if decision.allowed {
            allowed += 1;
            assert!(decision.reservation.is_some());
            assert_eq!(decision.retry_at, None);
        } else {
            assert_eq!(decision.left_today, 0);
            assert_eq!(decision.retry_at, Some(next_day_start(now)));
            assert!(decision.reservation.is_none());
        }
    }
    assert_eq!(allowed, 3, "exactly the daily cap is reserved");

    // Caps are per channel and per lead.
    let sms = caps::reserve(&redis, lead, Channel::Sms, "sms-0", now, limits).await?;
    assert!(sms.allowed);
    let other = caps::reserve(&redis, LeadId::new(), Channel::Email, "x", now, limits).await?;
    assert!(other.allowed);
    assert_eq!(other.left_today, 2);
    // The next UTC day has room again; the week has counted three.
    let tomorrow = next_day_start(now);
    let next = caps::reserve(&redis, lead, Channel::Email, "next", tomorrow, limits).await?;
    assert!(next.allowed);
    assert_eq!((next.left_today, next.left_week), (2, 6));
    Ok(())
}

#[tokio::test]
async fn the_weekly_cap_holds_across_days() -> anyhow::Result<()> {
    let redis = redis().await?;
    let lead = LeadId::new();
    let limits = CapLimits {
        per_day: 2,
        per_week: 3,
    };
    let monday = utc(2025, 6, 2, 9, 0);
    let tuesday = utc(2025, 6, 3, 9, 0);
    let reserve = |token: &'static str, at| {
        let redis = redis.clone();
        async move { caps::reserve(&redis, lead, Channel::Sms, token, at, limits).await }
    };

    assert!(reserve("m1", monday).await?.allowed);
    let second = reserve("m2", monday).await?;
    assert!(second.allowed);
    assert_eq!((second.left_today, second.left_week), (0, 1));
    let third = reserve("m3", monday).await?;
    assert!(!third.allowed);
    assert_eq!(third.retry_at, Some(tuesday - chrono::Duration::hours(9)));

    let t1 = reserve("t1", tuesday).await?;
    assert!(t1.allowed);
    assert_eq!((t1.left_today, t1.left_week), (1, 0));
    // The day has room but the week does not: retry next Monday 00:00 UTC.
    let t2 = reserve("t2", tuesday).await?;
    assert!(!t2.allowed);
    assert_eq!(t2.retry_at, Some(utc(2025, 6, 9, 0, 0)));
    assert_eq!((t2.left_today, t2.left_week), (1, 0));

    let next_monday = reserve("n1", utc(2025, 6, 9, 0, 0)).await?;
    assert!(next_monday.allowed);
    assert_eq!(next_monday.left_week, 2);
    Ok(())
}

#[tokio::test]
async fn reserving_is_idempotent_and_release_gives_the_place_back() -> anyhow::Result<()> {
    let redis = redis().await?;
    let lead = LeadId::new();
    let now = utc(2025, 6, 4, 15, 0);
    let one = CapLimits {
        per_day: 1,
        per_week: 5,
    };
    let first = caps::reserve(&redis, lead, Channel::Phone, "send-a", now, one).await?;
    assert!(first.allowed);
    // The same send again (a redelivery): allowed, no second place taken.
    let again = caps::reserve(&redis, lead, Channel::Phone, "send-a", now, one).await?;
    assert!(again.allowed);
    assert_eq!((again.left_today, again.left_week), (0, 4));
    let other = caps::reserve(&redis, lead, Channel::Phone, "send-b", now, one).await?;
    assert!(!other.allowed);

    // Abandoned before the provider call: the place comes back, once.
    let reservation = first.reservation.expect("reserved");
    assert!(caps::release(&redis, &reservation).await?);
    assert!(!caps::release(&redis, &reservation).await?);
    let later = now + chrono::Duration::minutes(5);
    let other = caps::reserve(&redis, lead, Channel::Phone, "send-b", later, one).await?;
    assert!(other.allowed);
    assert_eq!(other.left_week, 4);

    // Keys expire a day after their window ends (TTL relative to `now`, not Redis's clock).
    let [day_key, week_key] = caps::window_keys(&redis, lead, Channel::Phone, now);
    let mut conn = redis.conn().await?;
    let day_ttl: i64 = redis::cmd("TTL")
        .arg(&day_key)
        .query_async(&mut conn)
        .await?;
    let week_ttl: i64 = redis::cmd("TTL")
        .arg(&week_key)
        .query_async(&mut conn)
        .await?;
    assert!((0..=33 * 3600).contains(&day_ttl), "day TTL {day_ttl}");
    assert!(
        (day_ttl..=6 * 86_400).contains(&week_ttl),
        "week TTL {week_ttl}"
    );
    Ok(())
}
