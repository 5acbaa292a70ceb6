use serde_json::json;

use super::*;
use crate::headers;

fn sample() -> CloudEvent {
    CloudEvent::new(
        "lead.triaged.v1",
        "/lead-triage",
        Some("lead-42".into()),
        json!({"score": 87, "tags": ["a", "b"], "nested": {"x": null}}),
    )
    .with_correlation_id("corr-1")
}

#[test]
fn binary_round_trip() {
    let mut ev = sample();
    ev.traceparent = Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into());
    let bin = ev.to_binary().expect("encode");
    let back = CloudEvent::decode(&bin.headers, &bin.payload).expect("decode");
    assert_eq!(back, ev);
}

#[test]
fn binary_headers_are_the_kafka_binding() {
    let ev = sample();
    let bin = ev.to_binary().expect("encode");
    let get = |n: &str| {
        headers::find(&bin.headers, n).map(|v| String::from_utf8(v.to_vec()).expect("utf8"))
    };
    assert_eq!(get("ce_id").as_deref(), Some(ev.id.as_str()));
    assert_eq!(get("ce_source").as_deref(), Some("/lead-triage"));
    assert_eq!(get("ce_type").as_deref(), Some("lead.triaged.v1"));
    assert_eq!(get("ce_specversion").as_deref(), Some("1.0"));
    assert_eq!(get("ce_subject").as_deref(), Some("lead-42"));
    assert_eq!(get("ce_correlationid").as_deref(), Some("corr-1"));
    assert_eq!(get("content-type").as_deref(), Some("application/json"));
    assert!(get("traceparent").is_none());
    let time = get("ce_time").expect("ce_time");
    assert!(time.ends_with('Z'), "{time}");
    assert_eq!(
        DateTime::parse_from_rfc3339(&time).expect("rfc3339"),
        ev.time
    );
    let body: Value = serde_json::from_slice(&bin.payload).expect("json body");
    assert_eq!(body, ev.data);
}

#[test]
fn structured_round_trip() {
    let ev = sample();
    let body = ev.to_structured().expect("encode");
    let raw: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(raw["specversion"], "1.0");
    assert_eq!(raw["type"], "lead.triaged.v1");
    assert_eq!(raw["correlationid"], "corr-1");
    let headers = vec![(
        "content-type".to_owned(),
        b"application/cloudevents+json; charset=utf-8".to_vec(),
    )];
    let back = CloudEvent::decode(&headers, &body).expect("decode");
    assert_eq!(back, ev);
}

#[test]
fn structured_from_a_foreign_producer() {
    let body = br#"{"specversion":"1.0","id":"x1","source":"crm","type":"lead.received.v1",
        "time":"2024-05-01T10:00:00+02:00","data":{"email":"a@example.com"},"extra":"ignored"}"#;
    let headers = vec![(
        "Content-Type".to_owned(),
        b"application/cloudevents+json".to_vec(),
    )];
    let ev = CloudEvent::decode(&headers, body).expect("decode");
    assert_eq!(ev.id, "x1");
    assert_eq!(ev.time.to_rfc3339(), "2024-05-01T08:00:00+00:00");
    assert_eq!(ev.data["email"], "a@example.com");
    assert_eq!(ev.subject, None);
}

#[test]
fn plain_json_is_not_a_cloud_event() {
    let err = CloudEvent::decode(&[], br#"{"email":"a@example.com"}"#).expect_err("plain");
    assert!(matches!(err, CloudEventError::NotACloudEvent));
    let headers = vec![("content-type".to_owned(), b"application/json".to_vec())];
    let err = CloudEvent::decode(&headers, b"{}").expect_err("plain json");
    assert!(matches!(err, CloudEventError::NotACloudEvent));
}

#[test]
fn bad_records_are_typed_errors() {
    let mut bin = sample().to_binary().expect("encode");
    headers::set(&mut bin.headers, "ce_specversion", b"0.3".to_vec());
    assert!(matches!(
        CloudEvent::decode(&bin.headers, &bin.payload),
        Err(CloudEventError::UnsupportedSpecVersion(v)) if v == "0.3"
    ));

    let mut bin = sample().to_binary().expect("encode");
    bin.headers.retain(|(k, _)| k != "ce_id");
    assert!(matches!(
        CloudEvent::decode(&bin.headers, &bin.payload),
        Err(CloudEventError::MissingAttribute("id"))
    ));

    let mut bin = sample().to_binary().expect("encode");
    headers::set(&mut bin.headers, "ce_time", b"yesterday".to_vec());
    assert!(matches!(
        CloudEvent::decode(&bin.headers, &bin.payload),
        Err(CloudEventError::InvalidTime(_))
    ));

    let mut bin = sample().to_binary().expect("encode");
    headers::set(
        &mut bin.headers,
        "content-type",
        b"application/avro".to_vec(),
    );
    assert!(matches!(
        CloudEvent::decode(&bin.headers, &bin.payload),
        Err(CloudEventError::UnsupportedContentType(_))
    ));

    let bin = sample().to_binary().expect("encode");
    assert!(matches!(
        CloudEvent::decode(&bin.headers, b"{not json"),
        Err(CloudEventError::InvalidJson(_))
    ));

    let mut bin = sample().to_binary().expect("encode");
    headers::set(&mut bin.headers, "ce_source", vec![0xff]);
    assert!(matches!(
        CloudEvent::decode(&bin.headers, &bin.payload),
        Err(CloudEventError::InvalidHeader(_))
    ));
}

#[test]
fn empty_body_is_null_data() {
    let mut ev = sample();
    ev.data = Value::Null;
    let bin = ev.to_binary().expect("encode");
    let back = CloudEvent::decode(&bin.headers, b"").expect("decode");
    assert_eq!(back.data, Value::Null);
}

#[test]
fn typed_data() {
    #[derive(serde::Deserialize)]
    struct D {
        score: u32,
    }
    let d: D = sample().data_as().expect("typed");
    assert_eq!(d.score, 87);
}
