//! Every bad request gets a 4xx problem+json and changes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::{json, Value};
use suite_http::Scope;
use uuid::Uuid;

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
    key: Key,
}

#[derive(Clone, Copy)]
enum Key {
    Write,
    None,
    ReadOnly,
}

fn json_case(name: &'static str, path: &str, body: Value, status: u16) -> Case {
    Case {
        name,
        method: "POST",
        path: path.to_owned(),
        content_type: "application/json",
        body: serde_json::to_vec(&body).unwrap(),
        status,
        key: Key::Write,
    }
}

fn get_case(name: &'static str, path: &str, status: u16) -> Case {
    Case {
        name,
        method: "GET",
        path: path.to_owned(),
        content_type: "",
        body: Vec::new(),
        status,
        key: Key::Write,
    }
}

fn cases(lead: Uuid, foreign_lead: Uuid) -> Vec<Case> {
    let interaction = |extra: Value| {
        let mut body = json!({"lead_id": lead, "kind": "clicked", "channel": "email", "provider_event_id": "evt-bad"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let consent = |extra: Value| {
        let mut body = json!({"lead_id": lead, "channel": "email", "status": "granted", "source": "form", "legal_basis": "consent"});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let mut cases = vec![
        json_case(
            "unknown interaction kind",
            "/v1/interactions",
            interaction(json!({"kind": "liked"})),
            422,
        ),
        json_case(
            "sent is not accepted",
            "/v1/interactions",
            interaction(json!({"kind": "sent"})),
            422,
        ),
        json_case(
            "missing lead id",
            "/v1/interactions",
            json!({"kind": "clicked", "channel": "email", "provider_event_id": "e"}),
            422,
        ),
        json_case(
            "missing provider event id",
            "/v1/interactions",
            json!({"lead_id": lead, "kind": "clicked", "channel": "email"}),
            422,
        ),
        json_case(
            "empty provider event id",
            "/v1/interactions",
            interaction(json!({"provider_event_id": ""})),
            422,
        ),
        json_case(
            "provider event id too long",
            "/v1/interactions",
            interaction(json!({"provider_event_id": "e".repeat(201)})),
            422,
        ),
        json_case(
            "lead id not a uuid",
            "/v1/interactions",
            interaction(json!({"lead_id": "lead-1"})),
            422,
        ),
        json_case(
            "unknown channel",
            "/v1/interactions",
            interaction(json!({"channel": "fax"})),
            422,
        ),
        json_case(
            "no channel and no send",
            "/v1/interactions",
            json!({"lead_id": lead, "kind": "clicked", "provider_event_id": "e"}),
            422,
        ),
        json_case(
            "timestamp not RFC 3339",
            "/v1/interactions",
            interaction(json!({"occurred_at": "yesterday"})),
            422,
        ),
        json_case(
            "provider event id with a space",
            "/v1/interactions",
            interaction(json!({"provider_event_id": "evt 1"})),
            422,
        ),
        json_case(
            "send and campaign both given",
            "/v1/interactions",
            interaction(json!({"send_id": Uuid::now_v7(), "campaign_id": Uuid::now_v7()})),
            422,
        ),
        json_case(
            "unknown field",
            "/v1/interactions",
            interaction(json!({"score": 3})),
            422,
        ),
        json_case(
            "unknown send",
            "/v1/interactions",
            json!({"lead_id": lead, "kind": "opened", "send_id": Uuid::now_v7(), "provider_event_id": "e"}),
            422,
        ),
        json_case(
            "unknown campaign",
            "/v1/interactions",
            interaction(json!({"campaign_id": Uuid::now_v7()})),
            422,
        ),
        json_case(
            "foreign lead id",
            "/v1/interactions",
            interaction(json!({"lead_id": foreign_lead})),
            404,
        ),
        json_case(
            "unknown lead id",
            "/v1/interactions",
            interaction(json!({"lead_id": Uuid::now_v7()})),
            404,
        ),
        json_case(
            "interaction is an array",
            "/v1/interactions",
            json!([]),
            422,
        ),
        Case {
            name: "malformed JSON",
            method: "POST",
            path: "/v1/interactions".into(),
            content_type: "application/json",
            body: b"{\"lead_id\":".to_vec(),
            status: 400,
            key: Key::Write,
        },
        Case {
            name: "bad UTF-8",
            method: "POST",
            path: "/v1/interactions".into(),
            content_type: "application/json",
            body: vec![b'{', b'"', 0xff, 0xfe, b'"', b'}'],
            status: 400,
            key: Key::Write,
        },
        Case {
            name: "not JSON media type",
            method: "POST",
            path: "/v1/interactions".into(),
            content_type: "text/plain",
            body: b"clicked".to_vec(),
            status: 415,
            key: Key::Write,
        },
        Case {
            name: "oversized body",
            method: "POST",
            path: "/v1/interactions".into(),
            content_type: "application/json",
            body: format!("{{\"lead_id\":\"{}\"}}", "x".repeat(2 * 1024 * 1024)).into_bytes(),
            status: 413,
            key: Key::Write,
        },
        json_case(
            "consent status unknown",
            "/v1/consent",
            consent(json!({"status": "maybe"})),
            422,
        ),
        json_case(
            "consent legal basis unknown",
            "/v1/consent",
            consent(json!({"legal_basis": "because"})),
            422,
        ),
        json_case(
            "consent empty source",
            "/v1/consent",
            consent(json!({"source": " "})),
            422,
        ),
        json_case(
            "consent source too long",
            "/v1/consent",
            consent(json!({"source": "s".repeat(101)})),
            422,
        ),
        json_case(
            "consent channel unknown",
            "/v1/consent",
            consent(json!({"channel": "fax"})),
            422,
        ),
        json_case(
            "consent for a foreign lead",
            "/v1/consent",
            consent(json!({"lead_id": foreign_lead})),
            404,
        ),
        get_case("consent without lead id", "/v1/consent", 422),
        get_case(
            "consent with a bad lead id",
            "/v1/consent?lead_id=nope",
            422,
        ),
        get_case(
            "context of a foreign lead",
            &format!("/v1/leads/{foreign_lead}/context"),
            404,
        ),
        get_case(
            "conversation with a bad id",
            "/v1/leads/not-a-uuid/conversation",
            404,
        ),
        get_case("sends with a bad status", "/v1/sends?status=lost", 422),
        get_case("sends with a bad limit", "/v1/sends?limit=0", 422),
        get_case("sends with a bad cursor", "/v1/sends?cursor=%%%", 400),
        get_case("sends with an unknown filter", "/v1/sends?colour=red", 422),
    ];
    let mut no_key = json_case(
        "no API key",
        "/v1/interactions",
        interaction(json!({})),
        401,
    );
    no_key.key = Key::None;
    cases.push(no_key);
    let mut read_only = json_case(
        "read-only key writes",
        "/v1/consent",
        consent(json!({})),
        403,
    );
    read_only.key = Key::ReadOnly;
    cases.push(read_only);
    cases
}

async fn counts(env: &Env) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "interactions",
        "interaction_provider_events",
        "consent_ledger",
        "outbox",
        "communications",
        "send_reservations",
        "outreach_plans",
    ] {
        out.push(env.count(&format!("SELECT count(*) FROM {table}")).await);
    }
    out
}

#[tokio::test]
async fn bad_requests_get_4xx_problems_and_change_nothing() {
    let env = env().await;
    let lead = env.lead(json!({"email": true}), Some("UTC")).await;
    let other = suite_http::tenancy::create_workspace(env.db(), "other")
        .await
        .unwrap();
    // A lead of another workspace in the same database.
    let foreign_lead = env.lead_in(other.id, json!({"email": true}), None).await;
    let read_only =
        suite_http::tenancy::create_api_key(env.db(), env.workspace, "ro", &[Scope::Read], None)
            .await
            .unwrap()
            .key;
    let settings = settings(&env);
    let app = spawn(env, settings).await;
    let before = counts(&app.env).await;
    let all = cases(lead, foreign_lead);
    assert!(all.len() >= 20);
    let mut failures = Vec::new();
    for case in all {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut req = app
            .http
            .request(method, format!("{}{}", app.base, case.path));
        match case.key {
            Key::Write => req = req.bearer_auth(&app.env.key),
            Key::ReadOnly => req = req.bearer_auth(&read_only),
            Key::None => {}
        }
        if !case.content_type.is_empty() {
            req = req
                .header("content-type", case.content_type)
                .body(case.body.clone());
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        let well_formed = ct == "application/problem+json"
            && body["status"] == status
            && body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:suite:problem:"));
        if status != case.status || !well_formed {
            failures.push(format!("{}: got {status} {ct} {body}", case.name));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(counts(&app.env).await, before, "bad requests wrote nothing");
}
