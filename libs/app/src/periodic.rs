//! Background work repeated at a fixed cadence.

use std::future::Future;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Runs `pass` at once and then every `period` until `stop` is cancelled. A
/// pass that overruns delays the next one instead of bunching them up; each
/// pass handles (logs) its own failures.
pub async fn every<F, Fut>(period: Duration, stop: CancellationToken, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => {}
        }
        pass().await;
    }
}
