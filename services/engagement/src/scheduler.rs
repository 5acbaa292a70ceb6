//! The durable scheduler: every instance claims due steps from Postgres
//! with `FOR UPDATE SKIP LOCKED` (so instances never wait on or double-run
//! each other's steps) and runs the send path on each claimed batch
//! ([`Sender::execute_batch`]), with at most `scheduler_concurrency` steps
//! in flight. A claim holds for a lease; a step whose instance died is
//! claimed again when the lease ends, and the send reservation keeps it
//! from reaching the provider twice.

use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use suite_telemetry::names::ENGAGEMENT_STEPS;

use crate::send::Sender;
use crate::state::AppState;
use crate::store::steps;

/// Runs the scheduler until `stop`; then waits for the sends in flight.
pub async fn run(state: AppState, stop: CancellationToken) {
    let config = state.config.clone();
    let sender = Sender::start(state.clone());
    let slots = Arc::new(Semaphore::new(config.concurrency));
    let in_flight = TaskTracker::new();
    let lease = chrono::Duration::from_std(config.lease).unwrap_or(chrono::Duration::minutes(5));
    while !stop.is_cancelled() {
        // Claim as soon as a slot is free (a recorded set frees its steps'
        // slots together), not on the poll timer: at most `concurrency`
        // steps are in flight, and a full scheduler never idles.
        let first = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = stop.cancelled() => break,
        };
        let free = i64::try_from(slots.available_permits() + 1).unwrap_or(1);
        let limit = config.batch.min(free);
        let now = state.clock.now();
        let claimed = match steps::claim(state.platform.db.primary(), now, now + lease, limit).await
        {
            Ok(claimed) => claimed,
            Err(e) => {
                tracing::warn!(error = %e, "claiming due steps failed");
                Vec::new()
            }
        };
        let claimed_full = claimed.len() as i64 == limit;
        if !claimed.is_empty() {
            // Each step holds a slot until its end is recorded.
            let mut batch = Vec::with_capacity(claimed.len());
            let mut first = Some(first);
            for step in claimed {
                let slot = match first.take() {
                    Some(slot) => slot,
                    None => match slots.clone().acquire_owned().await {
                        Ok(slot) => slot,
                        Err(_) => return,
                    },
                };
                batch.push((step, slot));
            }
            let sender = sender.clone();
            in_flight.spawn(async move {
                for (step, result) in sender.execute_batch(batch).await {
                    match result {
                        Ok(outcome) => {
                            metrics::counter!(ENGAGEMENT_STEPS, "channel" => step.channel.as_str(), "outcome" => outcome.label())
                                .increment(1);
                            tracing::debug!(step_id = %step.id, ?outcome, "step done");
                        }
                        // The claim stays until its lease ends; the step is retried then.
                        Err(e) => tracing::warn!(step_id = %step.id, error = %e, "step failed; retried after its lease"),
                    }
                }
            });
        }
        if claimed_full {
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = state.wake.notified() => {}
            () = tokio::time::sleep(config.poll) => {}
        }
    }
    in_flight.close();
    in_flight.wait().await;
}
