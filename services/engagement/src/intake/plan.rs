//! Planning triaged leads as sets.
//!
//! Handlers hand their `lead.triaged.v1` events to one [`Planner`], which
//! plans everything that queued while the previous batch was committing
//! with a constant number of statements, whatever the batch size:
//!
//! 1. the campaign each (workspace, category) plans under (cached);
//! 2. one transaction: the event ids into `processed_events` (one statement,
//!    `RETURNING` the first-time ones: a redelivered event changes nothing),
//!    the plans (one statement, at most one per lead and campaign) and their
//!    steps (one statement);
//! 3. after the commit: the scheduler woken once, the batch's cached
//!    contexts dropped with one invalidation.
//!
//! The group commit is suite-bus's [`SetBatcher`]: a handler returns (and
//! its offset is stored) only after its batch committed, and if a batch's
//! transaction fails, each of its events is planned in a transaction of its
//! own, so one bad event never fails its batch mates.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use rand::Rng as _;
use suite_bus::batch::{SetBatcher, SetWork};
use suite_bus::HandlerError;
use suite_domain::LeadTriagedV1;
use uuid::Uuid;

use super::{choose_variant, CONSUMER};
use crate::error::Error;
use crate::outreach::ladder;
use crate::state::AppState;
use crate::store::campaigns::{self, CampaignTarget};
use crate::store::plans;

/// Most events planned in one transaction.
pub const MAX_BATCH: usize = 256;

/// What became of a triaged lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Planned {
    /// A plan was stored.
    Planned,
    /// The lead already had a plan for the campaign.
    AlreadyPlanned,
    /// No active campaign targets the lead's category (or it has no variant).
    NoCampaign,
    /// The event was handled before.
    Duplicate,
}

/// A triaged lead to plan: its event id, event and the trace context of
/// the record it came in (the plan keeps it for its steps).
pub struct Triaged {
    event_id: String,
    event: LeadTriagedV1,
    traceparent: Option<String>,
}

/// Plans sets of triaged leads (the [`SetWork`] of the planner).
pub struct PlanWork {
    state: AppState,
}

impl SetWork for PlanWork {
    type Item = Triaged;
    type Output = Planned;
    type Error = Error;

    async fn apply(&self, jobs: &[Triaged]) -> Result<Vec<Result<Planned, HandlerError>>, Error> {
        plan_all(&self.state, jobs).await
    }
}

/// Hands triaged leads to the planning task; cheap to clone.
#[derive(Clone)]
pub struct Planner {
    batcher: SetBatcher<PlanWork>,
}

impl Planner {
    /// Starts the planning task on `state`'s platform. It runs until every
    /// clone of the returned planner is dropped (the consumer stopped), so a
    /// draining consumer is never left without it.
    pub fn start(state: AppState) -> Self {
        let platform = state.platform.clone();
        let (batcher, task) = SetBatcher::new(
            PlanWork { state },
            MAX_BATCH,
            suite_telemetry::names::ENGAGEMENT_PLAN_BATCH,
        );
        platform.spawn(move |_stop| task);
        Self { batcher }
    }

    /// Plans outreach for the lead of `event` (hot, warm or nurture);
    /// returns once its batch committed (or failed). The plan keeps the
    /// trace context of the caller's span (the consumed record's), so its
    /// sends, however late, are spans of the lead's trace.
    pub async fn plan(
        &self,
        event_id: &str,
        event: LeadTriagedV1,
    ) -> Result<Planned, HandlerError> {
        self.batcher
            .submit(Triaged {
                event_id: event_id.to_owned(),
                event,
                traceparent: suite_bus::current_traceparent(),
            })
            .await
    }
}

/// One result per job, in order, once the transaction committed; `Err` when
/// the batch itself failed (nothing of it is kept).
async fn plan_all(
    state: &AppState,
    jobs: &[Triaged],
) -> Result<Vec<Result<Planned, HandlerError>>, Error> {
    let pool = state.platform.db.primary().clone();
    let mut results: Vec<Option<Result<Planned, HandlerError>>> =
        jobs.iter().map(|_| None).collect();

    // The campaign each (workspace, category) plans under, from the cache.
    let mut targets: HashMap<(Uuid, &str), Option<CampaignTarget>> = HashMap::new();
    for job in jobs {
        let key = (
            Uuid::from(job.event.workspace_id),
            job.event.category.as_str(),
        );
        if let Entry::Vacant(slot) = targets.entry(key) {
            let (workspace, category) = key;
            let target = state
                .targets
                .get_or_load(&AppState::target_key(workspace, category), async {
                    campaigns::active_targeting(&pool, workspace, category).await
                })
                .await?;
            slot.insert(target);
        }
    }

    // No check that the lead is known: its contact data travels on another
    // topic and may arrive after its triage; the send path waits for it.
    let pairs: Vec<(Uuid, Uuid)> = jobs.iter().map(|j| lead_of(&j.event)).collect();

    let mut tx = pool.begin().await?;
    let candidates: Vec<usize> = (0..jobs.len()).filter(|&i| results[i].is_none()).collect();
    let ids: Vec<&str> = candidates
        .iter()
        .map(|&i| jobs[i].event_id.as_str())
        .collect();
    let mut first: HashSet<String> =
        suite_bus::processed::first_times(&mut tx, CONSUMER, &ids).await?;

    let now = state.clock.now();
    let mut new_plans = Vec::new();
    let mut plan_of: HashMap<usize, Uuid> = HashMap::new();
    for &i in &candidates {
        let job = &jobs[i];
        if !first.remove(&job.event_id) {
            results[i] = Some(Ok(Planned::Duplicate));
            continue;
        }
        let (workspace, lead) = pairs[i];
        let target = targets
            .get(&(workspace, job.event.category.as_str()))
            .and_then(Option::as_ref);
        let Some((target, variant)) =
            target.and_then(|t| choose_variant(t, rand::rng().random()).map(|v| (t, v)))
        else {
            results[i] = Some(Ok(Planned::NoCampaign));
            continue;
        };
        let ladder_steps = (!target.ladder.is_empty()).then_some(target.ladder.as_slice());
        let plan = plans::NewPlan {
            id: Uuid::now_v7(),
            workspace_id: workspace,
            lead_id: lead,
            campaign_id: target.id,
            variant_id: variant,
            category: job.event.category.as_str().to_owned(),
            correlation_id: job.event.correlation_id.as_str().to_owned(),
            steps: ladder::plan(job.event.category, ladder_steps, now),
            traceparent: job.traceparent.clone(),
            // Kept only where a prompt may use them.
            score: target.generating.then(|| i16::from(job.event.score.get())),
            breakdown: target
                .generating
                .then(|| serde_json::to_value(&job.event.breakdown).ok())
                .flatten(),
        };
        plan_of.insert(i, plan.id);
        new_plans.push(plan);
    }
    let stored = plans::insert_many(&mut tx, &new_plans).await?;
    tx.commit().await?;

    let mut contexts = Vec::new();
    for (&i, plan) in &plan_of {
        results[i] = Some(Ok(if stored.contains(plan) {
            let (workspace, lead) = pairs[i];
            contexts.push(AppState::conversation_key(workspace, lead));
            Planned::Planned
        } else {
            Planned::AlreadyPlanned
        }));
    }
    if !contexts.is_empty() {
        state.wake.notify_one();
        // A context read before the plan (cached with no current step) would
        // otherwise hide it until the first send, days away for a drip.
        state.contexts.invalidate_many(&contexts).await;
    }
    Ok(results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(HandlerError::transient("an event without a result"))))
        .collect())
}

fn lead_of(event: &LeadTriagedV1) -> (Uuid, Uuid) {
    (Uuid::from(event.workspace_id), Uuid::from(event.lead_id))
}
