//! Group commit: callers hand items to one task that applies everything
//! queued while the previous set was being applied as one set (one
//! transaction, a constant number of statements), then answers each caller.
//!
//! A consumer's handlers submit their records' work here and return (and
//! their offsets are stored) only once the set holding it committed. If a
//! set fails as a whole, each of its items is applied again on its own, so
//! one bad item never fails its set mates.
//!
//! ```no_run
//! use suite_bus::batch::{SetBatcher, SetWork};
//! use suite_bus::HandlerError;
//!
//! struct Doubler;
//!
//! impl SetWork for Doubler {
//!     type Item = u32;
//!     type Output = u32;
//!     type Error = HandlerError;
//!     async fn apply(&self, items: &[u32]) -> Result<Vec<Result<u32, HandlerError>>, HandlerError> {
//!         Ok(items.iter().map(|n| Ok(n * 2)).collect())
//!     }
//! }
//!
//! # async fn demo() -> Result<(), HandlerError> {
//! let (batcher, task) = SetBatcher::new(Doubler, 256, "example_batch_size");
//! tokio::spawn(task);
//! assert_eq!(batcher.submit(21).await?, 42);
//! # Ok(()) }
//! ```

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::consumer::HandlerError;

/// Work applied to a set of items at once.
pub trait SetWork: Send + Sync + 'static {
    /// What a caller submits.
    type Item: Send + 'static;
    /// What a caller gets back once its set committed.
    type Output: Send + 'static;
    /// Why a set failed as a whole (nothing of it was kept).
    type Error: Display + Into<HandlerError> + Send + 'static;

    /// Applies `items` as one set and returns one result per item, in order.
    /// `Err` means nothing of the set was kept; each item is then applied
    /// again alone.
    fn apply(
        &self,
        items: &[Self::Item],
    ) -> impl Future<Output = Result<Vec<Result<Self::Output, HandlerError>>, Self::Error>> + Send;
}

struct Job<W: SetWork> {
    item: W::Item,
    reply: oneshot::Sender<Result<W::Output, HandlerError>>,
}

/// Hands items to the set-applying task; cheap to clone.
pub struct SetBatcher<W: SetWork> {
    jobs: mpsc::Sender<Job<W>>,
}

impl<W: SetWork> Clone for SetBatcher<W> {
    fn clone(&self) -> Self {
        Self {
            jobs: self.jobs.clone(),
        }
    }
}

impl<W: SetWork> SetBatcher<W> {
    /// A batcher applying at most `max_batch` items per set through `work`,
    /// and the task that does it: spawn it (on the service's task tracker).
    /// The task ends once every clone of the batcher is dropped and the
    /// queued items are answered, so a draining consumer is never left
    /// without it. Each set's size is recorded in the histogram `metric`.
    pub fn new(
        work: W,
        max_batch: usize,
        metric: &'static str,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let max_batch = max_batch.max(1);
        let (jobs, rx) = mpsc::channel(max_batch * 4);
        let task = run(Arc::new(work), rx, max_batch, metric);
        (Self { jobs }, task)
    }

    /// Applies `item` with whatever else is queued; returns once its set
    /// committed (or failed).
    pub async fn submit(&self, item: W::Item) -> Result<W::Output, HandlerError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { item, reply })
            .await
            .map_err(|_| HandlerError::transient("the batching task has stopped"))?;
        answer
            .await
            .map_err(|_| HandlerError::transient("the batching task dropped the set"))?
    }
}

async fn run<W: SetWork>(
    work: Arc<W>,
    mut rx: mpsc::Receiver<Job<W>>,
    max_batch: usize,
    metric: &'static str,
) {
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let jobs = std::mem::take(&mut batch);
        metrics::histogram!(metric).record(jobs.len() as f64);
        commit(work.as_ref(), jobs).await;
    }
}

/// Applies `jobs` as one set, or each alone when the set fails, and answers
/// every job.
async fn commit<W: SetWork>(work: &W, jobs: Vec<Job<W>>) {
    let (items, replies): (Vec<_>, Vec<_>) = jobs.into_iter().map(|j| (j.item, j.reply)).unzip();
    match work.apply(&items).await {
        Ok(results) => answer(replies, results),
        Err(err) if items.len() == 1 => answer(replies, vec![Err(err.into())]),
        Err(err) => {
            tracing::warn!(error = %err, items = items.len(), "set failed; applying its items one by one");
            for (item, reply) in items.into_iter().zip(replies) {
                let result = match work.apply(std::slice::from_ref(&item)).await {
                    Ok(mut results) => results
                        .pop()
                        .unwrap_or_else(|| Err(HandlerError::transient("no result for the item"))),
                    Err(err) => Err(err.into()),
                };
                answer(vec![reply], vec![result]);
            }
        }
    }
}

fn answer<T>(
    replies: Vec<oneshot::Sender<Result<T, HandlerError>>>,
    results: Vec<Result<T, HandlerError>>,
) {
    let mut results = results.into_iter();
    for reply in replies {
        let result = results
            .next()
            .unwrap_or_else(|| Err(HandlerError::transient("no result for the item")));
        // The caller may have given up (shutdown); nothing to do then.
        let _ = reply.send(result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records the sets it sees; a set holding 0 fails as a whole, and 0
    /// alone is refused permanently.
    struct Recorder(Arc<Mutex<Vec<Vec<u32>>>>);

    impl SetWork for Recorder {
        type Item = u32;
        type Output = u32;
        type Error = HandlerError;
        async fn apply(
            &self,
            items: &[u32],
        ) -> Result<Vec<Result<u32, HandlerError>>, HandlerError> {
            self.0.lock().expect("lock").push(items.to_vec());
            if items.contains(&0) {
                return Err(HandlerError::permanent("zero", "zero is refused"));
            }
            Ok(items.iter().map(|n| Ok(n + 1)).collect())
        }
    }

    #[tokio::test]
    async fn queued_items_share_a_set_and_a_failed_set_is_retried_item_by_item() {
        let sets = Arc::new(Mutex::new(Vec::new()));
        let (batcher, task) = SetBatcher::new(Recorder(Arc::clone(&sets)), 8, "test_batch_size");
        // Queue everything before the task runs, so the items form sets of 8 and 2.
        let submits: Vec<_> = (0..10u32)
            .map(|n| {
                let b = batcher.clone();
                tokio::spawn(async move { b.submit(n).await })
            })
            .collect();
        tokio::task::yield_now().await;
        let runner = tokio::spawn(task);
        let mut answers = Vec::new();
        for s in submits {
            answers.push(s.await.expect("join"));
        }
        drop(batcher);
        runner
            .await
            .expect("the task ends once the batcher is dropped");

        let zero = answers
            .iter()
            .filter(|a| matches!(a, Err(HandlerError::Permanent { .. })))
            .count();
        assert_eq!(zero, 1, "only the item 0 is refused: {answers:?}");
        let mut ok: Vec<u32> = answers.into_iter().filter_map(Result::ok).collect();
        ok.sort_unstable();
        assert_eq!(ok, (2..=10).collect::<Vec<_>>());
        let sets = sets.lock().expect("lock").clone();
        assert!(
            sets.iter().any(|s| s.len() > 1),
            "queued items were applied together: {sets:?}"
        );
        assert!(
            sets.iter().all(|s| s.len() <= 8),
            "no set above the bound: {sets:?}"
        );
        assert!(
            sets.iter().any(|s| s == &vec![0]),
            "the failed set was retried item by item: {sets:?}"
        );
    }
}
