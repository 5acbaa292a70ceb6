#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! The API contract: lead-triage fuzzed from its own OpenAPI document by
//! schemathesis (libs/testkit/src/contract.rs): no server error, no status
//! code the document does not list, no response outside its schema, and
//! every request the document calls valid (invalid) accepted (refused).

mod common;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_does_what_its_openapi_document_says() {
    let triage = common::spawn().await;
    let reports = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("contract/lead-triage");
    let report = suite_testkit::contract::fuzz(&triage.base, &triage.key, None, &reports)
        .await
        .expect("contract");
    eprintln!("{report}");
}
