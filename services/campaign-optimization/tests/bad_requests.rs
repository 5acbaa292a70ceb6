#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every bad request gets a 4xx application/problem+json and changes nothing.

mod common;

use common::*;
use serde_json::{json, Value};

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    body: Option<Vec<u8>>,
    content_type: &'static str,
    key: Key,
    status: u16,
}

#[derive(Clone, Copy)]
enum Key {
    Own,
    Other,
    None,
}

fn body_case(
    name: &'static str,
    method: &'static str,
    path: &str,
    body: Value,
    status: u16,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        body: Some(serde_json::to_vec(&body).unwrap()),
        content_type: "application/json",
        key: Key::Own,
        status,
    }
}

fn create_with(name: &'static str, edit: impl FnOnce(&mut Value), status: u16) -> Case {
    let mut body = campaign_body("bad");
    edit(&mut body);
    body_case(name, "POST", "/v1/campaigns", body, status)
}

fn get_case(name: &'static str, path: &str, status: u16) -> Case {
    Case {
        name,
        method: "GET",
        path: path.to_owned(),
        body: None,
        content_type: "",
        key: Key::Own,
        status,
    }
}

fn cases(id: &str) -> Vec<Case> {
    let one = format!("/v1/campaigns/{id}");
    vec![
        create_with(
            "unknown template variable",
            |b| {
                b["variants"][0]["content"]["email"]["subject"] = json!("Hi {{ password }}");
            },
            422,
        ),
        create_with(
            "template syntax error",
            |b| {
                b["variants"][1]["content"]["sms"]["body"] = json!("Hi {{ name ");
            },
            422,
        ),
        create_with(
            "unknown template filter",
            |b| {
                b["variants"][1]["content"]["sms"]["body"] = json!("Hi {{ name | shout }}");
            },
            422,
        ),
        create_with(
            "unknown variable in a generation prompt",
            |b| {
                b["variants"][0]["content"]["email"]["generation"] =
                    json!({"prompt": "Mention {{ salary }}"});
            },
            422,
        ),
        create_with(
            "generation temperature above 2",
            |b| {
                b["variants"][1]["content"]["sms"]["generation"] =
                    json!({"prompt": "Text {{ name }}", "temperature": 3});
            },
            422,
        ),
        create_with(
            "unknown generation field",
            |b| {
                b["variants"][0]["content"]["email"]["generation"] =
                    json!({"prompt": "Hi {{ name }}", "top_p": 0.9});
            },
            422,
        ),
        create_with(
            "negative generation max_tokens",
            |b| {
                b["variants"][0]["content"]["email"]["generation"] =
                    json!({"prompt": "Hi {{ name }}", "max_tokens": -1});
            },
            422,
        ),
        create_with(
            "negative budget",
            |b| b["daily_budget_micros"] = json!(-1),
            422,
        ),
        create_with(
            "negative channel cost",
            |b| b["channel_costs"]["sms"] = json!(-5),
            422,
        ),
        create_with(
            "missing cost for a ladder channel",
            |b| {
                b["channel_costs"] = json!({"email": 1000});
            },
            422,
        ),
        create_with(
            "unknown objective",
            |b| b["objective"] = json!("impressions"),
            422,
        ),
        create_with(
            "min_share × variants > 1",
            |b| b["min_share"] = json!(0.6),
            422,
        ),
        create_with("min_share above 1", |b| b["min_share"] = json!(1.5), 422),
        create_with("negative warm-up", |b| b["warmup_sends"] = json!(-1), 422),
        create_with(
            "burst above 100%",
            |b| b["pacing_burst_bps"] = json!(20000),
            422,
        ),
        create_with("unknown field", |b| b["priority"] = json!("high"), 422),
        create_with(
            "unknown content field",
            |b| {
                b["variants"][0]["content"]["email"]["html"] = json!("<b>x</b>");
            },
            422,
        ),
        create_with(
            "unknown channel in ladder",
            |b| {
                b["ladder"] = json!([{"channel": "fax", "delay_secs": 0}]);
            },
            422,
        ),
        create_with(
            "ladder delays going backwards",
            |b| {
                b["ladder"] = json!([{"channel": "email", "delay_secs": 7200}, {"channel": "sms", "delay_secs": 60}]);
            },
            422,
        ),
        create_with("empty ladder", |b| b["ladder"] = json!([]), 422),
        create_with(
            "no content for a ladder channel",
            |b| {
                b["variants"][1]["content"]
                    .as_object_mut()
                    .unwrap()
                    .remove("sms");
            },
            422,
        ),
        create_with(
            "category engagement does not contact",
            |b| {
                b["target_categories"] = json!(["cold"]);
            },
            422,
        ),
        create_with(
            "unknown category",
            |b| b["target_categories"] = json!(["lukewarm"]),
            422,
        ),
        create_with("no variants", |b| b["variants"] = json!([]), 422),
        create_with(
            "repeated variant names",
            |b| b["variants"][1]["name"] = json!("A"),
            422,
        ),
        create_with("name too long", |b| b["name"] = json!("x".repeat(201)), 422),
        create_with("blank name", |b| b["name"] = json!("   "), 422),
        create_with(
            "budget of the wrong type",
            |b| b["daily_budget_micros"] = json!("lots"),
            422,
        ),
        Case {
            name: "malformed JSON",
            method: "POST",
            path: "/v1/campaigns".into(),
            body: Some(b"{\"name\": ".to_vec()),
            content_type: "application/json",
            key: Key::Own,
            status: 400,
        },
        Case {
            name: "not JSON",
            method: "POST",
            path: "/v1/campaigns".into(),
            body: Some(b"name=x".to_vec()),
            content_type: "application/x-www-form-urlencoded",
            key: Key::Own,
            status: 415,
        },
        Case {
            name: "no API key",
            method: "POST",
            path: "/v1/campaigns".into(),
            body: Some(serde_json::to_vec(&campaign_body("anon")).unwrap()),
            content_type: "application/json",
            key: Key::None,
            status: 401,
        },
        Case {
            name: "foreign campaign: read",
            method: "GET",
            path: one.clone(),
            body: None,
            content_type: "",
            key: Key::Other,
            status: 404,
        },
        Case {
            name: "foreign campaign: update",
            method: "PATCH",
            path: one.clone(),
            body: Some(serde_json::to_vec(&json!({"name": "mine now"})).unwrap()),
            content_type: "application/json",
            key: Key::Other,
            status: 404,
        },
        Case {
            name: "foreign campaign: pause",
            method: "POST",
            path: format!("{one}/pause"),
            body: None,
            content_type: "",
            key: Key::Other,
            status: 404,
        },
        Case {
            name: "foreign campaign: archive",
            method: "POST",
            path: format!("{one}/archive"),
            body: None,
            content_type: "",
            key: Key::Other,
            status: 404,
        },
        body_case(
            "update: unknown field",
            "PATCH",
            &one,
            json!({"colour": "red"}),
            422,
        ),
        body_case(
            "update: min_share × variants > 1",
            "PATCH",
            &one,
            json!({"min_share": 0.9}),
            422,
        ),
        body_case(
            "update: negative budget",
            "PATCH",
            &one,
            json!({"daily_budget_micros": -10}),
            422,
        ),
        body_case(
            "update: invalid template",
            "PATCH",
            &one,
            json!({"variant_content": {"A": {"email": {"subject": "{{ ssn }}", "body": "b"}, "sms": {"body": "s"}}}}),
            422,
        ),
        body_case(
            "update: invalid generation prompt",
            "PATCH",
            &one,
            json!({"variant_content": {"A": {"email": {"subject": "s", "body": "b",
                "generation": {"prompt": "{{ ssn }}"}}, "sms": {"body": "s"}}}}),
            422,
        ),
        body_case(
            "update: unknown variant",
            "PATCH",
            &one,
            json!({"variant_content": {"Z": {"email": {"subject": "s", "body": "b"}, "sms": {"body": "s"}}}}),
            422,
        ),
        body_case(
            "update: ladder channel without content",
            "PATCH",
            &one,
            json!({"ladder": [{"channel": "phone", "delay_secs": 0}], "channel_costs": {"phone": 5}}),
            422,
        ),
        body_case(
            "update: a ladder step written as an array",
            "PATCH",
            &one,
            json!({"ladder": [["email", 0]]}),
            422,
        ),
        body_case(
            "update: a variant's content written as an array",
            "PATCH",
            &one,
            json!({"variant_content": {"A": [null, {"body": "s"}, null]}}),
            422,
        ),
        body_case(
            "update: unknown objective",
            "PATCH",
            &one,
            json!({"objective": "likes"}),
            422,
        ),
        get_case("bad cursor", "/v1/campaigns?cursor=not-a-cursor", 400),
        get_case("bad status filter", "/v1/campaigns?status=draft", 422),
        get_case("limit out of range", "/v1/campaigns?limit=0", 422),
        get_case("unknown query parameter", "/v1/campaigns?sort=name", 422),
        get_case("campaign id not a UUID", "/v1/campaigns/not-a-uuid", 404),
        get_case(
            "unknown campaign",
            &format!("/v1/campaigns/{}", uuid::Uuid::now_v7()),
            404,
        ),
        get_case(
            "unknown campaign performance",
            &format!("/v1/campaigns/{}/performance", uuid::Uuid::now_v7()),
            404,
        ),
    ]
}

async fn snapshot(svc: &Service) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "campaigns",
        "campaign_variants",
        "campaign_variant_stats",
        "campaign_allocations",
        "campaign_optimizer_state",
    ] {
        out.push(svc.count(table).await);
    }
    let versions: i64 =
        sqlx::query_scalar("SELECT COALESCE(sum(version), 0)::bigint FROM campaigns")
            .fetch_one(&svc.env.db)
            .await
            .unwrap();
    let sequences: i64 =
        sqlx::query_scalar("SELECT COALESCE(sum(sequence), 0)::bigint FROM campaign_allocations")
            .fetch_one(&svc.env.db)
            .await
            .unwrap();
    out.extend([versions, sequences]);
    out
}

#[tokio::test]
async fn bad_requests_get_problems_and_change_nothing() {
    let svc = spawn(&[]).await;
    let created = svc.create(&campaign_body("Existing")).await;
    let id = id_of(&created);
    let other = svc.other_key().await;
    let before = snapshot(&svc).await;
    let all = cases(&id.to_string());
    assert!(all.len() >= 15);
    for case in all {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut req = svc.http.request(method, svc.url(&case.path));
        match case.key {
            Key::Own => req = req.bearer_auth(&svc.key),
            Key::Other => req = req.bearer_auth(&other),
            Key::None => {}
        }
        if let Some(body) = case.body {
            req = req.header("content-type", case.content_type).body(body);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let content_type = r
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let problem: Value = r.json().await.unwrap_or(Value::Null);
        assert_eq!(status, case.status, "{}: {problem}", case.name);
        assert_eq!(content_type, "application/problem+json", "{}", case.name);
        assert!(
            problem["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:suite:problem:")),
            "{}: {problem}",
            case.name
        );
        if status == 422 && !matches!(case.key, Key::None) {
            assert!(
                problem["errors"].as_array().is_some_and(|e| !e.is_empty()),
                "{}: no field errors in {problem}",
                case.name
            );
        }
    }
    assert_eq!(
        snapshot(&svc).await,
        before,
        "a bad request changed stored data"
    );
    // The campaign is as it was.
    let read = svc.get_json(&format!("/v1/campaigns/{id}")).await;
    assert_eq!(read, created);
}

/// The 422 of `body` on `method path`: its field errors as (pointer, detail).
async fn field_errors(
    svc: &Service,
    method: &str,
    path: &str,
    body: &Value,
) -> Vec<(String, String)> {
    let r = svc.send(method, path, Some(body)).await;
    let status = r.status().as_u16();
    let content_type = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let problem: Value = r.json().await.unwrap();
    assert_eq!(status, 422, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_bad_generation_spec_is_refused_naming_its_field() {
    let svc = spawn(&[]).await;
    let created = svc.create(&campaign_body("Existing")).await;
    let one = format!("/v1/campaigns/{}", id_of(&created));
    let before = snapshot(&svc).await;

    // A prompt may only use the prompt variables.
    let mut body = campaign_body("Salary");
    body["variants"][0]["content"]["email"]["generation"] =
        json!({"prompt": "Write to {{ first_name }} about their {{ salary }}"});
    let errors = field_errors(&svc, "POST", "/v1/campaigns", &body).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, "/variants/0/content/email/generation/prompt");
    assert!(errors[0].1.contains("salary"), "{errors:?}");

    // Temperature is 0–2.
    let mut body = campaign_body("Hot");
    body["variants"][0]["content"]["email"]["generation"] =
        json!({"prompt": "Write to {{ first_name }}", "temperature": 3});
    let errors = field_errors(&svc, "POST", "/v1/campaigns", &body).await;
    let pointers: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        pointers,
        ["/variants/0/content/email/generation/temperature"]
    );

    // A patch's content is checked the same way.
    let patch = json!({"variant_content": {"B": {
        "email": {"subject": "s", "body": "b", "generation": {"prompt": "{{ salary }}"}},
        "sms": {"body": "s", "generation": {"prompt": "Hi {{ name }}", "max_tokens": 5000}}}}});
    let errors = field_errors(&svc, "PATCH", &one, &patch).await;
    let pointers: Vec<&str> = errors.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(
        pointers,
        [
            "/variant_content/B/email/generation/prompt",
            "/variant_content/B/sms/generation/max_tokens",
        ]
    );
    assert!(errors[0].1.contains("salary"), "{errors:?}");

    assert_eq!(snapshot(&svc).await, before, "a refused spec was stored");
    let read = svc.get_json(&one).await;
    assert_eq!(read, created);
}
