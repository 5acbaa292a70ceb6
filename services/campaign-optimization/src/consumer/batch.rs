//! Group commit of interactions: one transaction per batch, counted as one
//! set ([`count_batch`]).

use suite_bus::HandlerError;
use suite_domain::InteractionV1;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::count::{count_batch, Outcome};
use crate::error::Error;
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

/// Counts `jobs` in one transaction and answers every job. If the batch's
/// transaction fails, each job is counted in a transaction of its own, so
/// one interaction can never fail its batch mates.
async fn commit_batch(state: &AppState, jobs: Vec<Job>) {
    metrics::histogram!(crate::metric_names::INTERACTION_BATCH_SIZE).record(jobs.len() as f64);
    match count_all(state, &jobs).await {
        Ok(results) => answer(state, jobs, results).await,
        Err(err) if jobs.len() == 1 => {
            answer(state, jobs, vec![Err(HandlerError::from(err))]).await
        }
        Err(err) => {
            tracing::warn!(error = %err, interactions = jobs.len(), "counting batch failed; counting its interactions one by one");
            for job in jobs {
                let result = match count_all(state, std::slice::from_ref(&job)).await {
                    Ok(mut results) => results
                        .pop()
                        .unwrap_or_else(|| Err(HandlerError::transient("no counting result"))),
                    Err(err) => Err(HandlerError::from(err)),
                };
                answer(state, vec![job], vec![result]).await;
            }
        }
    }
}

/// Drops the cached campaigns whose status changed, once each, and answers
/// every job.
async fn answer(state: &AppState, jobs: Vec<Job>, results: Vec<Result<Outcome, HandlerError>>) {
    let mut changed: Vec<(Uuid, Uuid)> = jobs
        .iter()
        .zip(&results)
        .filter_map(
            |(job, result)| match (result, job.interaction.campaign_id) {
                (
                    Ok(Outcome::Counted {
                        status_changed: true,
                    }),
                    Some(campaign),
                ) => Some((*job.interaction.workspace_id.as_uuid(), *campaign.as_uuid())),
                _ => None,
            },
        )
        .collect();
    changed.sort_unstable();
    changed.dedup();
    for (workspace, campaign) in changed {
        state.invalidate(workspace, campaign).await;
    }
    for (job, result) in jobs.into_iter().zip(results) {
        // The handler may have given up (shutdown); nothing to do then.
        let _ = job.reply.send(result);
    }
}

/// Results per job, in order, once the transaction committed; `Err` when
/// the transaction itself failed (nothing of the batch is kept).
async fn count_all(
    state: &AppState,
    jobs: &[Job],
) -> Result<Vec<Result<Outcome, HandlerError>>, Error> {
    let mut tx = state.platform.db.primary().begin().await?;
    let interactions: Vec<&InteractionV1> = jobs.iter().map(|j| &j.interaction).collect();
    let results = count_batch(state, &mut tx, &interactions).await?;
    tx.commit().await?;
    Ok(results)
}
