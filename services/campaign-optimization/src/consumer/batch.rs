//! Group commit of interactions: one transaction per batch, one savepoint
//! per interaction.

use sqlx::Acquire as _;
use suite_bus::HandlerError;
use suite_domain::InteractionV1;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::count::{count_in, Outcome};
use crate::state::AppState;

/// Most interactions counted in one transaction.
pub const MAX_BATCH: usize = 256;

type Reply = oneshot::Sender<Result<Outcome, HandlerError>>;

struct Job {
    interaction: InteractionV1,
    reply: Reply,
}

/// Hands interactions to the batching task; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    jobs: mpsc::Sender<Job>,
}

impl Batcher {
    /// Starts the batching task on `state`'s platform. It runs until every
    /// clone of the returned batcher is dropped (the consumer stopped), so
    /// a draining consumer is never left without it.
    pub fn start(state: AppState) -> Self {
        let (jobs, rx) = mpsc::channel(MAX_BATCH * 4);
        let platform = state.platform.clone();
        platform.spawn(move |_stop| run(state, rx));
        Self { jobs }
    }

    /// Counts `interaction`; returns once its batch committed (or failed).
    pub async fn count(&self, interaction: InteractionV1) -> Result<Outcome, HandlerError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { interaction, reply })
            .await
            .map_err(|_| HandlerError::transient("the interaction batcher has stopped"))?;
        answer
            .await
            .map_err(|_| HandlerError::transient("the interaction batcher dropped the batch"))?
    }
}

async fn run(state: AppState, mut rx: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let jobs = std::mem::take(&mut batch);
        commit_batch(&state, jobs).await;
    }
}

/// Counts `jobs` in one transaction and answers every job.
async fn commit_batch(state: &AppState, mut jobs: Vec<Job>) {
    // Campaign row locks are taken in campaign order (stable sort: one
    // campaign's interactions keep their order), the same order in every
    // instance, so concurrent batches cannot deadlock.
    jobs.sort_by_key(|j| campaign_of(&j.interaction));
    metrics::histogram!(crate::metric_names::INTERACTION_BATCH_SIZE).record(jobs.len() as f64);
    let results = match count_all(state, &jobs).await {
        Ok(results) => results,
        Err(err) => {
            let message = err.to_string();
            jobs.iter()
                .map(|_| Err(HandlerError::transient(&message)))
                .collect()
        }
    };
    for (job, result) in jobs.into_iter().zip(results) {
        if let (
            Ok(Outcome::Counted {
                status_changed: true,
            }),
            Some(campaign),
        ) = (&result, job.interaction.campaign_id)
        {
            state
                .invalidate(*job.interaction.workspace_id.as_uuid(), *campaign.as_uuid())
                .await;
        }
        // The handler may have given up (shutdown); nothing to do then.
        let _ = job.reply.send(result);
    }
}

fn campaign_of(interaction: &InteractionV1) -> Uuid {
    interaction
        .campaign_id
        .map(|c| *c.as_uuid())
        .unwrap_or_default()
}

/// Results per job, in order, once the transaction committed; `Err` when
/// the transaction itself failed (nothing of the batch is kept).
async fn count_all(
    state: &AppState,
    jobs: &[Job],
) -> Result<Vec<Result<Outcome, HandlerError>>, sqlx::Error> {
    let mut tx = state.platform.db.primary().begin().await?;
    let mut results = Vec::with_capacity(jobs.len());
    for job in jobs {
        let mut savepoint = (&mut *tx).begin().await?;
        let result = count_in(state, &mut savepoint, &job.interaction).await;
        if result.is_ok() {
            savepoint.commit().await?;
        } else {
            savepoint.rollback().await?;
        }
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}
