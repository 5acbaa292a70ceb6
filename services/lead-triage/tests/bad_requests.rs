#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! Every bad request gets a 4xx problem+json and writes nothing.

mod common;

use common::*;

struct Case {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: &'static str,
    body: Vec<u8>,
    headers: Vec<(&'static str, String)>,
    status: u16,
    auth: Auth,
}

#[derive(Clone, Copy)]
enum Auth {
    Key,
    None,
    ReadOnly,
}

fn json_case(
    name: &'static str,
    method: &'static str,
    path: &str,
    body: serde_json::Value,
    status: u16,
) -> Case {
    Case {
        name,
        method,
        path: path.to_owned(),
        content_type: "application/json",
        body: serde_json::to_vec(&body).unwrap(),
        headers: Vec::new(),
        status,
        auth: Auth::Key,
    }
}

fn raw_case(
    name: &'static str,
    path: &str,
    content_type: &'static str,
    body: Vec<u8>,
    status: u16,
) -> Case {
    Case {
        name,
        method: "POST",
        path: path.to_owned(),
        content_type,
        body,
        headers: Vec::new(),
        status,
        auth: Auth::Key,
    }
}

fn get_case(name: &'static str, path: &str, status: u16) -> Case {
    Case {
        name,
        method: "GET",
        path: path.to_owned(),
        content_type: "",
        body: Vec::new(),
        headers: Vec::new(),
        status,
        auth: Auth::Key,
    }
}

fn cases(existing: &str, model: &serde_json::Value) -> Vec<Case> {
    use serde_json::json;
    let lead = |extra: serde_json::Value| {
        let mut l = json!({"email": "new@initech.com"});
        if let (Some(l), Some(e)) = (l.as_object_mut(), extra.as_object()) {
            l.extend(e.clone());
        }
        l
    };
    let with_header = |mut c: Case, k: &'static str, v: String| {
        c.headers.push((k, v));
        c
    };
    let mut batch_1001 = Vec::new();
    for i in 0..1001 {
        batch_1001.push(json!({"email": format!("b{i}@initech.com")}));
    }
    let mut cases = vec![
        json_case(
            "missing email",
            "POST",
            "/v1/leads",
            json!({"name": "x"}),
            422,
        ),
        json_case(
            "invalid email",
            "POST",
            "/v1/leads",
            json!({"email": "not-an-email"}),
            422,
        ),
        json_case(
            "email too long",
            "POST",
            "/v1/leads",
            json!({"email": format!("{}@initech.com", "a".repeat(300))}),
            422,
        ),
        json_case(
            "email wrong type",
            "POST",
            "/v1/leads",
            json!({"email": 42}),
            422,
        ),
        json_case(
            "phone too short",
            "POST",
            "/v1/leads",
            lead(json!({"phone": "12"})),
            422,
        ),
        json_case(
            "phone with letters",
            "POST",
            "/v1/leads",
            lead(json!({"phone": "+1 415 CALL NOW"})),
            422,
        ),
        json_case(
            "unknown field",
            "POST",
            "/v1/leads",
            lead(json!({"favourite_colour": "teal"})),
            422,
        ),
        json_case(
            "company size wrong type",
            "POST",
            "/v1/leads",
            lead(json!({"company_size": "ten"})),
            422,
        ),
        json_case(
            "negative company size",
            "POST",
            "/v1/leads",
            lead(json!({"company_size": -3})),
            422,
        ),
        json_case(
            "country not alpha-2",
            "POST",
            "/v1/leads",
            lead(json!({"country": "USA"})),
            422,
        ),
        json_case(
            "unknown time zone",
            "POST",
            "/v1/leads",
            lead(json!({"timezone": "Mars/Olympus_Mons"})),
            422,
        ),
        json_case(
            "name too long",
            "POST",
            "/v1/leads",
            lead(json!({"name": "n".repeat(400)})),
            422,
        ),
        json_case(
            "attributes too large",
            "POST",
            "/v1/leads",
            lead(json!({"attributes": {"blob": "x".repeat(9000)}})),
            422,
        ),
        json_case(
            "utm unknown key",
            "POST",
            "/v1/leads",
            lead(json!({"utm": {"sauce": "x"}})),
            422,
        ),
        json_case(
            "consent wrong type",
            "POST",
            "/v1/leads",
            lead(json!({"consent": {"email": "yes"}})),
            422,
        ),
        json_case(
            "body is an array",
            "POST",
            "/v1/leads",
            json!([{"email": "a@b.co"}]),
            422,
        ),
        json_case(
            "body is null",
            "POST",
            "/v1/leads",
            serde_json::Value::Null,
            422,
        ),
        raw_case(
            "2 MB body",
            "/v1/leads",
            "application/json",
            vec![b' '; 2 * 1024 * 1024],
            413,
        ),
        raw_case(
            "bad UTF-8",
            "/v1/leads",
            "application/json",
            b"{\"email\": \"\xc3\x28@x.io\"}".to_vec(),
            400,
        ),
        raw_case(
            "truncated JSON",
            "/v1/leads",
            "application/json",
            b"{\"email\": \"a@b.co\"".to_vec(),
            400,
        ),
        raw_case(
            "not JSON content type",
            "/v1/leads",
            "text/plain",
            b"email=a@b.co".to_vec(),
            415,
        ),
        json_case(
            "batch of 1001",
            "POST",
            "/v1/leads/batch",
            json!({"leads": batch_1001}),
            422,
        ),
        json_case(
            "empty batch",
            "POST",
            "/v1/leads/batch",
            json!({"leads": []}),
            422,
        ),
        json_case(
            "batch not a list",
            "POST",
            "/v1/leads/batch",
            json!({"leads": 5}),
            422,
        ),
        json_case(
            "batch unknown field",
            "POST",
            "/v1/leads/batch",
            json!({"leads": [], "mode": "fast"}),
            422,
        ),
        get_case("bad cursor", "/v1/leads?cursor=not-a-cursor", 400),
        get_case("forged cursor", "/v1/leads?cursor=eyJ0IjoxfQ", 400),
        get_case("limit zero", "/v1/leads?limit=0", 422),
        get_case("limit not a number", "/v1/leads?limit=many", 422),
        get_case("unknown category", "/v1/leads?category=lukewarm", 422),
        get_case(
            "bad created_after",
            "/v1/leads?created_after=yesterday",
            422,
        ),
        get_case("unknown query parameter", "/v1/leads?colour=teal", 422),
        get_case("lead id not a UUID", "/v1/leads/not-a-uuid", 404),
        get_case(
            "unknown lead",
            "/v1/leads/0190c6c1-0000-7000-8000-000000000000",
            404,
        ),
        json_case(
            "model thresholds out of order",
            "PUT",
            "/v1/scoring-model",
            edit(
                model,
                "/thresholds",
                json!({"hot": 40, "warm": 60, "nurture": 20}),
            ),
            422,
        ),
        json_case(
            "model unknown field",
            "PUT",
            "/v1/scoring-model",
            edit(model, "/magic", json!(true)),
            422,
        ),
        json_case(
            "model negative weight",
            "PUT",
            "/v1/scoring-model",
            edit(model, "/fit_weights/company_size", json!(-5)),
            422,
        ),
        json_case(
            "model zero half-life",
            "PUT",
            "/v1/scoring-model",
            edit(model, "/decay_half_life_hours", json!(0)),
            422,
        ),
        json_case(
            "model missing a section",
            "PUT",
            "/v1/scoring-model",
            json!({"thresholds": model["thresholds"]}),
            422,
        ),
        json_case(
            "track without event",
            "POST",
            "/v1/track",
            json!({"message_id": "m1", "lead_id": existing}),
            422,
        ),
        json_case(
            "track with two lead references",
            "POST",
            "/v1/track",
            json!({"message_id": "m2", "lead_id": existing, "email": "a@initech.com", "event": "x"}),
            422,
        ),
        json_case(
            "lead with U+0000 in an attribute",
            "POST",
            "/v1/leads",
            lead(json!({"attributes": {"note": "a\u{0}b"}})),
            422,
        ),
        json_case(
            "lead with U+0000 in its name",
            "POST",
            "/v1/leads",
            lead(json!({"name": "a\u{0}"})),
            422,
        ),
        json_case(
            "lead written as an array",
            "POST",
            "/v1/leads",
            json!(["new@initech.com"]),
            422,
        ),
        json_case(
            "lead with utm as an array",
            "POST",
            "/v1/leads",
            lead(json!({"utm": ["google"]})),
            422,
        ),
        json_case(
            "identify with traits as an array",
            "POST",
            "/v1/identify",
            json!({"message_id": "m9", "lead_id": existing, "traits": [null, "Ann"]}),
            422,
        ),
        json_case(
            "lead with a country padded by spaces",
            "POST",
            "/v1/leads",
            lead(json!({"country": " DE "})),
            422,
        ),
        get_case(
            "list with U+0000 in a filter",
            "/v1/leads?source=a%00b",
            422,
        ),
        get_case("list with a limit of 201", "/v1/leads?limit=201", 422),
        get_case(
            "list with an upper-case category",
            "/v1/leads?category=HOT",
            422,
        ),
        json_case(
            "track for an unknown lead",
            "POST",
            "/v1/track",
            json!({"message_id": "m4", "lead_id": "0190c6c1-0000-7000-8000-000000000000", "event": "x"}),
            404,
        ),
        json_case(
            "identify with a bad phone",
            "POST",
            "/v1/identify",
            json!({"message_id": "m5", "lead_id": existing, "traits": {"phone": "0"}}),
            422,
        ),
        json_case(
            "track batch of 1001",
            "POST",
            "/v1/track",
            json!({"batch": vec![json!({}); 1001]}),
            422,
        ),
    ];
    cases.push(with_header(
        json_case(
            "idempotency key too long",
            "POST",
            "/v1/leads",
            lead(json!({})),
            400,
        ),
        "idempotency-key",
        "k".repeat(300),
    ));
    cases.push(with_header(
        json_case(
            "correlation id with spaces",
            "POST",
            "/v1/leads",
            lead(json!({})),
            400,
        ),
        "x-correlation-id",
        "not valid id".into(),
    ));
    let mut no_auth = json_case("no API key", "POST", "/v1/leads", lead(json!({})), 401);
    no_auth.auth = Auth::None;
    cases.push(no_auth);
    let mut read_only = json_case(
        "read-only key writes",
        "POST",
        "/v1/leads",
        lead(json!({})),
        403,
    );
    read_only.auth = Auth::ReadOnly;
    cases.push(read_only);
    let mut model_read_only = json_case(
        "read-only key replaces the model",
        "PUT",
        "/v1/scoring-model",
        json!({}),
        403,
    );
    model_read_only.auth = Auth::ReadOnly;
    cases.push(model_read_only);
    cases
}

/// `model` with the value at `pointer` replaced (or added).
fn edit(model: &serde_json::Value, pointer: &str, value: serde_json::Value) -> serde_json::Value {
    let mut m = model.clone();
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = if parent.is_empty() {
        &mut m
    } else {
        m.pointer_mut(parent).unwrap()
    };
    target
        .as_object_mut()
        .unwrap()
        .insert(key.to_owned(), value);
    m
}

async fn counts(t: &Triage) -> (i64, i64, i64, i64, i64) {
    let q = |sql: &'static str| sqlx::query_scalar::<_, i64>(sql).fetch_one(&t.env.db);
    (
        q("SELECT count(*) FROM leads").await.unwrap(),
        q("SELECT count(*) FROM lead_events").await.unwrap(),
        q("SELECT count(*) FROM scoring_models").await.unwrap(),
        q("SELECT count(*) FROM idempotency_keys").await.unwrap(),
        q("SELECT count(*) FROM lead_scores").await.unwrap(),
    )
}

#[tokio::test]
async fn bad_requests_get_4xx_problems_and_change_nothing() {
    let t = spawn().await;
    let existing: serde_json::Value = t
        .post("/v1/leads", &hot_lead("existing@initech.com"))
        .await
        .json()
        .await
        .unwrap();
    let existing_id = existing["id"].as_str().unwrap().to_owned();
    let read_only = {
        let key = suite_http::tenancy::create_api_key(
            &t.env.db,
            t.workspace,
            "ro",
            &[suite_http::Scope::Read],
            None,
        )
        .await
        .unwrap();
        key.key
    };
    let before = counts(&t).await;
    let current: serde_json::Value = t.get("/v1/scoring-model").await.json().await.unwrap();
    let all = cases(&existing_id, &current["model"]);
    assert!(all.len() >= 25);
    let mut failures = Vec::new();
    for case in all {
        let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
        let mut req = t.http.request(method, t.url(&case.path));
        match case.auth {
            Auth::Key => req = req.bearer_auth(&t.key),
            Auth::ReadOnly => req = req.bearer_auth(&read_only),
            Auth::None => {}
        }
        if !case.content_type.is_empty() {
            req = req
                .header("content-type", case.content_type)
                .body(case.body.clone());
        }
        for (k, v) in &case.headers {
            req = req.header(*k, v);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let body: serde_json::Value = resp.json().await.unwrap_or(serde_json::Value::Null);
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
    assert_eq!(counts(&t).await, before, "bad requests wrote nothing");
}
