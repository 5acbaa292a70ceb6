//! Engagement's copies of the data other services own: each lead's contact
//! data from `leads.contacts` (kept in sets, one statement per batch of
//! events) and each campaign's definition from `campaigns.definitions`.
//! Both topics are compacted and keyed by the entity; a copy changes only
//! for a newer record, so redeliveries and replays change nothing.

use suite_bus::batch::{SetBatcher, SetWork};
use suite_bus::HandlerError;
use suite_domain::{CampaignDefinitionV1, Category, LeadContactV1};
use uuid::Uuid;

use crate::error::Error;
use crate::state::AppState;
use crate::store::{campaigns, leads, steps};

/// Most contact events kept in one statement.
pub const MAX_BATCH: usize = 512;

/// Keeps sets of contact events (the [`SetWork`] of [`Contacts`]).
pub struct ContactWork {
    state: AppState,
}

impl SetWork for ContactWork {
    type Item = LeadContactV1;
    type Output = ();
    type Error = Error;

    async fn apply(&self, items: &[LeadContactV1]) -> Result<Vec<Result<(), HandlerError>>, Error> {
        let refs: Vec<&LeadContactV1> = items.iter().collect();
        let pool = self.state.platform.db.primary();
        let kept = leads::upsert_many(pool, &refs).await?;
        // Steps of new leads that came due before their contact data go now.
        if steps::release_lead_waits(pool, &kept.inserted).await? > 0 {
            self.state.wake.notify_one();
        }
        let keys: Vec<String> = kept
            .updated
            .into_iter()
            .map(|(workspace, lead)| AppState::conversation_key(workspace, lead))
            .collect();
        // A cached lead context shows the contact data it was built from.
        self.state.contexts.invalidate_many(&keys).await;
        Ok(items.iter().map(|_| Ok(())).collect())
    }
}

/// Hands contact events to the task that keeps them; cheap to clone.
#[derive(Clone)]
pub struct Contacts {
    batcher: SetBatcher<ContactWork>,
}

impl Contacts {
    /// Starts the keeping task on `state`'s platform; it runs until every
    /// clone of the returned handle is dropped.
    pub fn start(state: AppState) -> Self {
        let platform = state.platform.clone();
        let (batcher, task) = SetBatcher::new(
            ContactWork { state },
            MAX_BATCH,
            suite_telemetry::names::ENGAGEMENT_CONTACT_BATCH,
        );
        platform.spawn(move |_stop| task);
        Self { batcher }
    }

    /// Keeps `contact`; returns once its set committed.
    pub async fn keep(&self, contact: LeadContactV1) -> Result<(), HandlerError> {
        self.batcher.submit(contact).await
    }
}

/// Forgets lead `key` (a tombstone on `leads.contacts`: the lead was erased).
pub async fn forget_lead(state: &AppState, key: Option<&[u8]>) -> Result<(), HandlerError> {
    let id = key
        .and_then(|k| std::str::from_utf8(k).ok())
        .and_then(|k| Uuid::parse_str(k).ok())
        .ok_or_else(|| {
            HandlerError::permanent("invalid_event", "a tombstone without a lead id key")
        })?;
    if let Some((workspace, cached)) = leads::forget(state.platform.db.primary(), id).await? {
        state.answers.invalidate_many(&cached).await;
        state.lead_changed(workspace, id).await;
        tracing::info!(lead_id = %id, "lead erased from the contact copy");
    }
    Ok(())
}

/// Keeps `definition` if it is newer than the copy, and drops the cached
/// campaign choices of its workspace and its variants' cached content.
pub async fn apply_definition(
    state: &AppState,
    definition: &CampaignDefinitionV1,
) -> Result<(), HandlerError> {
    let mut tx = state
        .platform
        .db
        .primary()
        .begin()
        .await
        .map_err(Error::from)?;
    let changed = campaigns::apply(&mut tx, definition)
        .await
        .map_err(Error::from)?;
    tx.commit().await.map_err(Error::from)?;
    // Dropped also when this delivery changed nothing: a crash between an
    // earlier delivery's commit and its invalidation leaves nothing stale.
    let workspace = Uuid::from(definition.workspace_id);
    let mut keys: Vec<String> = [Category::Hot, Category::Warm, Category::Nurture]
        .iter()
        .map(|c| AppState::target_key(workspace, c.as_str()))
        .collect();
    state.targets.invalidate_many(&keys).await;
    keys = definition
        .variants
        .iter()
        .map(|v| Uuid::from(v.variant_id).simple().to_string())
        .collect();
    state.variants.invalidate_many(&keys).await;
    if changed {
        tracing::info!(campaign_id = %definition.campaign_id, version = definition.version,
            status = %definition.status, "campaign definition applied");
    }
    Ok(())
}
