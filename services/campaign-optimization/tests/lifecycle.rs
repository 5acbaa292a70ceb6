//! The binary starts against the real stack, becomes ready, and exits cleanly on SIGTERM.

#[tokio::test]
async fn starts_ready_and_stops_on_sigterm() {
    suite_testkit::process::assert_lifecycle(
        env!("CARGO_BIN_EXE_campaign-optimization"),
        "campaign-optimization",
    )
    .await
    .expect("lifecycle");
}
