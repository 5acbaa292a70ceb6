#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! The shared HTTP stack against the real Postgres, Redis cluster and broker.

mod common;

use std::time::Duration;

use common::*;
use suite_http::Scope;

const ALL: &[Scope] = &[Scope::Read, Scope::Write, Scope::Admin];

#[tokio::test]
async fn health_ready_and_metrics() {
    let (_env, settings) = env_with(&[]).await;
    let app = spawn_app(settings).await;
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{}/healthz", app.base))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let mut ready = 0;
    for _ in 0..50 {
        ready = http
            .get(format!("{}/readyz", app.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        if ready == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(ready, 200, "postgres, redis and the broker are reachable");
    // Produce one sample so the histogram exists, then scrape.
    let _ = http
        .get(format!("{}/v1/workspace", app.base))
        .send()
        .await
        .unwrap();
    let metrics = http
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("agent_request_duration_seconds_bucket"),
        "{metrics}"
    );
    assert!(metrics.contains("agent_errors_total"), "{metrics}");
}

#[tokio::test]
async fn missing_wrong_and_foreign_keys_are_refused() {
    let (env, settings) = env_with(&[]).await;
    let app = spawn_app(settings).await;
    let (ws_a, key_a) = workspace_with_key(&env, ALL, None).await;
    let (_ws_b, key_b) = workspace_with_key(&env, ALL, None).await;
    let (_, read_only) = workspace_with_key(&env, &[Scope::Read], None).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/workspaces/{ws_a}", app.base);

    let body = problem(http.get(&url).send().await.unwrap(), 401).await;
    assert_eq!(body["type"], "urn:suite:problem:unauthorized");
    problem(
        http.get(&url)
            .bearer_auth("sk_not_a_real_key")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    problem(
        http.get(&url)
            .header("authorization", "Basic Zm9vOmJhcg==")
            .send()
            .await
            .unwrap(),
        401,
    )
    .await;
    let body = problem(
        http.get(&url).bearer_auth(&key_b).send().await.unwrap(),
        403,
    )
    .await;
    assert!(body["detail"]
        .as_str()
        .unwrap()
        .contains("another workspace"));

    let ok = http.get(&url).bearer_auth(&key_a).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    let ws: serde_json::Value = ok.json().await.unwrap();
    assert_eq!(ws["id"], ws_a.to_string());

    // Scopes: a read-only key cannot write or administer.
    let echo = serde_json::json!({"name": "x", "count": 1});
    problem(
        http.post(format!("{}/v1/echo", app.base))
            .bearer_auth(&read_only)
            .json(&echo)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;
    problem(
        http.get(format!("{}/v1/admin-only", app.base))
            .bearer_auth(&read_only)
            .send()
            .await
            .unwrap(),
        403,
    )
    .await;

    // A revoked key stops working on this instance at once.
    let created: serde_json::Value = http
        .post(format!("{}/v1/api-keys", app.base))
        .bearer_auth(&key_a)
        .json(&serde_json::json!({"name": "temp", "scopes": ["read"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let temp = created["key"].as_str().unwrap().to_owned();
    assert_eq!(
        http.get(&url)
            .bearer_auth(&temp)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let revoke = http
        .delete(format!(
            "{}/v1/api-keys/{}",
            app.base,
            created["id"].as_str().unwrap()
        ))
        .bearer_auth(&key_a)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    problem(http.get(&url).bearer_auth(&temp).send().await.unwrap(), 401).await;
}

#[tokio::test]
async fn rate_limit_is_shared_by_two_instances() {
    let (env, settings) = env_with(&[("rate_limit.burst", "4")]).await;
    let a = spawn_app(settings.clone()).await;
    let b = spawn_app(settings).await;
    let (_, key) = workspace_with_key(&env, ALL, Some(1)).await;
    let http = reqwest::Client::new();
    let mut allowed = 0;
    let mut limited = None;
    for i in 0..12 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let resp = http
            .get(format!("{base}/v1/workspace"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert!(resp.headers().contains_key("ratelimit-limit"));
        assert!(resp.headers().contains_key("ratelimit-remaining"));
        if resp.status() == 200 {
            allowed += 1;
        } else {
            limited.get_or_insert(resp);
        }
    }
    // A burst of 4 plus the one request the rate refills: about 5 across BOTH
    // instances; per-instance limits would have allowed about 10.
    assert!(
        (4..=6).contains(&allowed),
        "allowed {allowed} of 12 across two instances"
    );
    let limited = limited.expect("some requests were limited");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "retry-after {retry}");
    assert_eq!(limited.headers()["ratelimit-remaining"], "0");
    let body = problem(limited, 429).await;
    assert_eq!(body["type"], "urn:suite:problem:rate-limited");
}

#[tokio::test]
async fn leased_places_still_come_from_one_budget_shared_by_two_instances() {
    // 50/s with 200 ms leases: each instance takes 10 places per Redis call.
    let (env, settings) =
        env_with(&[("rate_limit.burst", "20"), ("rate_limit.lease_ms", "200")]).await;
    let a = spawn_app(settings.clone()).await;
    let b = spawn_app(settings).await;
    let (_, key) = workspace_with_key(&env, ALL, Some(50)).await;
    let http = reqwest::Client::new();
    let started = std::time::Instant::now();
    let mut allowed = 0u64;
    for i in 0..80 {
        let base = if i % 2 == 0 { &a.base } else { &b.base };
        let resp = http
            .get(format!("{base}/v1/workspace"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        match resp.status().as_u16() {
            200 => allowed += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    // The burst of 20 plus what 50/s refilled meanwhile, across BOTH
    // instances; a lease per instance on top of that would be 10 more.
    let refilled = (started.elapsed().as_secs_f64() * 50.0).ceil() as u64;
    assert!(
        (10..=20 + refilled + 1).contains(&allowed),
        "allowed {allowed} of 80 across two instances (refilled {refilled})"
    );
}

#[tokio::test]
async fn a_starting_service_prunes_processed_event_ids_past_their_retention() {
    let (env, mut settings) = env_with(&[]).await;
    settings.consumer.processed_retention_hours = 24;
    sqlx::query(
        "INSERT INTO processed_events (consumer, event_id, processed_at) VALUES \
         ('c', 'expired', now() - interval '25 hours'), ('c', 'kept', now() - interval '23 hours')",
    )
    .execute(&env.db)
    .await
    .unwrap();
    let _app = spawn_app(settings).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let ids = loop {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT event_id FROM processed_events ORDER BY event_id")
                .fetch_all(&env.db)
                .await
                .unwrap();
        if ids.len() < 2 || std::time::Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(ids, ["kept"], "only the id past its retention is gone");
}

#[tokio::test]
async fn bad_bodies_get_4xx_naming_the_field() {
    let (env, settings) = env_with(&[]).await;
    let app = spawn_app(settings).await;
    let (_, key) = workspace_with_key(&env, ALL, None).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/echo", app.base);
    let post = |body: Vec<u8>, ct: &'static str| {
        http.post(&url)
            .bearer_auth(&key)
            .header("content-type", ct)
            .body(body)
            .send()
    };

    let big = vec![b' '; 2 * 1024 * 1024];
    problem(post(big, "application/json").await.unwrap(), 413).await;
    problem(
        post(b"{\"name\": ".to_vec(), "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    problem(
        post(
            b"{\"name\": \"\xff\xfe\", \"count\": 1}".to_vec(),
            "application/json",
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    problem(
        post(b"{\"name\": \"x\", \"count\": 1}".to_vec(), "text/plain")
            .await
            .unwrap(),
        415,
    )
    .await;

    let cases: &[(&str, &str)] = &[
        (r#"{"name": "x", "count": "three"}"#, "/count"),
        (r#"{"name": "x", "count": -1}"#, "/count"),
        (r#"{"count": 1}"#, "/name"),
        (r#"{"name": "x", "count": 1, "extra": true}"#, "/extra"),
        (
            r#"{"name": "x", "count": 1, "items": [{"email": "a@b.c"}, {"email": 5}]}"#,
            "/items/1/email",
        ),
        (
            r#"{"name": "x", "count": 1, "items": [{"email": "a@b.c"}, {"email": "nope"}]}"#,
            "/items/1/email",
        ),
        (r#"{"name": "x", "count": 11}"#, "/count"),
    ];
    for (body, pointer) in cases {
        let resp = post(body.as_bytes().to_vec(), "application/json")
            .await
            .unwrap();
        let problem = problem(resp, 422).await;
        assert_eq!(
            problem["errors"][0]["pointer"], *pointer,
            "{body} -> {problem}"
        );
    }
    let ok = post(br#"{"name": "x", "count": 2}"#.to_vec(), "application/json")
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let unknown_route = http
        .get(format!("{}/v1/nope", app.base))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    problem(unknown_route, 404).await;
}

#[tokio::test]
async fn overload_is_shed_with_retry_after() {
    let (env, settings) = env_with(&[("http.max_concurrency", "1")]).await;
    let app = spawn_app(settings).await;
    let (_, key) = workspace_with_key(&env, ALL, None).await;
    let http = reqwest::Client::new();
    let url = format!("{}/v1/slow", app.base);
    let first = tokio::spawn({
        let (http, url, key) = (http.clone(), url.clone(), key.clone());
        async move {
            http.get(&url)
                .bearer_auth(&key)
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second = http.get(&url).bearer_auth(&key).send().await.unwrap();
    assert_eq!(second.headers()["retry-after"], "1");
    problem(second, 503).await;
    assert_eq!(first.await.unwrap(), 200);
}

/// At `http.max_connections`, a new connection takes the place of open
/// connections that have had no request in flight for a second (they are
/// closed), so a client's idle pooled connections never lock others out.
#[tokio::test]
async fn at_the_connection_cap_idle_connections_make_room() {
    let (_env, settings) = env_with(&[
        ("http.max_connections", "2"),
        ("http.idle_timeout_secs", "60"),
    ])
    .await;
    let app = spawn_app(settings).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut idle = Vec::new();
    for _ in 0..2 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    // Idle for more than the second a fresh connection is left alone.
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let served = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(
        served.status(),
        200,
        "served in the place of an idle connection"
    );
    for conn in idle {
        closed_by_the_server(conn).await;
    }
}

/// When every connection at the cap has a request in flight, a new one gets
/// one 503 with `Retry-After` at once and is closed.
#[tokio::test]
async fn at_the_connection_cap_with_every_connection_busy_new_ones_are_refused() {
    let (env, settings) = env_with(&[("http.max_connections", "2")]).await;
    let app = spawn_app(settings).await;
    let (_, key) = workspace_with_key(&env, ALL, None).await;
    let slow = (0..2)
        .map(|_| {
            let (url, key) = (format!("{}/v1/slow", app.base), key.clone());
            tokio::spawn(async move {
                // A client of its own: its own connection.
                reqwest::Client::new()
                    .get(url)
                    .bearer_auth(key)
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect::<Vec<_>>();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(refused.headers()["connection"], "close");
    let body = problem(refused, 503).await;
    assert_eq!(body["detail"], "overload", "{body}");
    for request in slow {
        assert_eq!(request.await.unwrap(), 200, "the busy ones are served");
    }
}

/// A connection that sends nothing for `http.idle_timeout_secs` is closed.
#[tokio::test]
async fn idle_connections_are_closed_after_the_idle_timeout() {
    let (_env, settings) = env_with(&[("http.idle_timeout_secs", "1")]).await;
    let app = spawn_app(settings).await;
    let addr = app.base.trim_start_matches("http://").to_owned();
    let conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    closed_by_the_server(conn).await;
}

async fn closed_by_the_server(mut conn: tokio::net::TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut buf))
        .await
        .expect("the connection is closed by the server");
    assert!(
        matches!(read, Ok(0) | Err(_)),
        "closed, not answered: {read:?}"
    );
}
