//! Group commit of interactions through a [`SetBatcher`]: each set is
//! counted in one transaction ([`count_batch`]); after the commit, the
//! cached campaigns whose status changed are dropped.

use suite_bus::batch::{SetBatcher, SetWork};
use suite_bus::HandlerError;
use suite_domain::InteractionV1;
use uuid::Uuid;

use super::count::{count_batch, Outcome};
use crate::error::Error;
use crate::state::AppState;

/// Most interactions counted in one transaction.
pub const MAX_BATCH: usize = 256;

/// Hands interactions to the batching task; cheap to clone.
#[derive(Clone)]
pub struct Batcher(SetBatcher<Counting>);

impl Batcher {
    /// Starts the batching task on `state`'s platform. It runs until every
    /// clone of the returned batcher is dropped (the consumer stopped), so
    /// a draining consumer is never left without it.
    pub fn start(state: AppState) -> Self {
        let platform = state.platform.clone();
        let (batcher, task) = SetBatcher::new(
            Counting { state },
            MAX_BATCH,
            crate::metric_names::INTERACTION_BATCH_SIZE,
        );
        platform.spawn(move |_stop| task);
        Self(batcher)
    }

    /// Counts `interaction`; returns once its batch committed (or failed).
    pub async fn count(&self, interaction: InteractionV1) -> Result<Outcome, HandlerError> {
        self.0.submit(interaction).await
    }
}

/// Counts a set of interactions in one transaction.
struct Counting {
    state: AppState,
}

impl SetWork for Counting {
    type Item = InteractionV1;
    type Output = Outcome;
    type Error = Error;

    async fn apply(
        &self,
        interactions: &[InteractionV1],
    ) -> Result<Vec<Result<Outcome, HandlerError>>, Error> {
        let results = count_all(&self.state, interactions).await?;
        invalidate_changed(&self.state, interactions, &results).await;
        Ok(results)
    }
}

/// Results per interaction, in order, once the transaction committed; `Err`
/// when the transaction itself failed (nothing of the set is kept).
async fn count_all(
    state: &AppState,
    interactions: &[InteractionV1],
) -> Result<Vec<Result<Outcome, HandlerError>>, Error> {
    let mut tx = state.platform.db.primary().begin().await?;
    let interactions: Vec<&InteractionV1> = interactions.iter().collect();
    let results = count_batch(state, &mut tx, &interactions).await?;
    tx.commit().await?;
    Ok(results)
}

/// Drops the cached campaigns whose status changed, once each.
async fn invalidate_changed(
    state: &AppState,
    interactions: &[InteractionV1],
    results: &[Result<Outcome, HandlerError>],
) {
    let mut changed: Vec<(Uuid, Uuid)> = interactions
        .iter()
        .zip(results)
        .filter_map(
            |(interaction, result)| match (result, interaction.campaign_id) {
                (
                    Ok(Outcome::Counted {
                        status_changed: true,
                    }),
                    Some(campaign),
                ) => Some((*interaction.workspace_id.as_uuid(), *campaign.as_uuid())),
                _ => None,
            },
        )
        .collect();
    changed.sort_unstable();
    changed.dedup();
    for (workspace, campaign) in changed {
        state.invalidate(workspace, campaign).await;
    }
}
