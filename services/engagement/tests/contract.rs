#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! The API contract: engagement fuzzed from its own OpenAPI document by
//! schemathesis (libs/testkit/src/contract.rs): no server error, no status
//! code the document does not list, no response outside its schema, and
//! every request the document calls valid (invalid) accepted (refused).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_does_what_its_openapi_document_says() {
    let env = common::env().await;
    let settings = common::settings(&env);
    // An admin key, so that the key-management routes are fuzzed past their 403.
    let key = suite_http::tenancy::create_api_key(
        &env.env.db,
        env.workspace,
        "contract",
        &[suite_http::Scope::Admin],
        None,
    )
    .await
    .expect("admin key")
    .key;
    // A lead in engagement's copy: its context, conversation and consent are
    // fuzzed past the 404 of an unknown lead.
    let lead = env
        .lead(serde_json::json!({"email": true}), Some("UTC"))
        .await;
    let engagement = common::spawn(env, settings).await;
    let reports = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract/engagement");
    let report = suite_testkit::contract::fuzz(&engagement.base, &key, Some(lead), &reports)
        .await
        .expect("contract");
    eprintln!("{report}");
}
