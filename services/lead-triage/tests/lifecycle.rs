#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns
//! The binary starts against the real stack, becomes ready, and exits cleanly on SIGTERM.

#[tokio::test]
async fn starts_ready_and_stops_on_sigterm() {
    suite_testkit::process::assert_lifecycle(env!("CARGO_BIN_EXE_lead-triage"), "lead-triage")
        .await
        .expect("lifecycle");
}
