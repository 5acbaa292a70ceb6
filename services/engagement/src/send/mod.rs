//! The send path, on a claimed batch of steps, in the order
//! docs/architecture.md §6.2 gives: campaign still sending → consent →
//! address → quiet hours → template → frequency caps → day budget → send
//! reservation → provider (breaker, retries) → communication + `sent`
//! interaction (outbox).
//!
//! A batch costs a constant number of statements, whatever its size:
//!
//! 1. one read of everything the decisions need ([`gather::load`]: campaign
//!    state, lead contact data, latest consent per channel);
//! 2. the decisions up to the template, in memory ([`decide`]);
//! 3. the frequency caps (one script call per lead, sent together on the
//!    multiplexed cluster connection), then the day budget with one script
//!    call per campaign;
//! 4. the send reservations with one statement ([`reservations::reserve_many`]);
//! 5. the provider calls, concurrently;
//! 6. every step's end handed to the [`Recorder`], which writes whatever
//!    ended meanwhile as one set ([`record`]).
//!
//! A step blocked by quiet hours, caps, budget, an open breaker or a paused
//! campaign is rescheduled; one that cannot use its channel (no consent, no
//! address, no content, a permanent failure, exhausted retries) ends and the
//! plan falls back to the next step on another channel, due at once.

pub mod decide;
pub mod deliver;
pub mod record;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use suite_bus::batch::SetBatcher;
use suite_domain::LeadId;
use suite_telemetry::names::{ENGAGEMENT_RECORD_BATCH, ENGAGEMENT_SEND_BATCH, LLM_FALLBACKS};
use tracing::Instrument as _;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::memory::MemoryEntry;
use crate::outreach::budget::{self, BudgetReservation};
use crate::outreach::{caps, CapReservation};
use crate::personalise::guardrails;
use crate::providers::OutgoingMessage;
use crate::state::AppState;
use crate::store::campaigns::{self, VariantContent};
use crate::store::gather;
use crate::store::generations::{self, Generation};
use crate::store::reservations::{self, Reserved};
use crate::store::steps::ClaimedStep;
use decide::{Decision, Ready};
use deliver::Delivery;
use record::{DeadLetter, End, Recorder, SentMessage, Settle, StepEnd};

/// How soon a step waiting for its generated text looks again.
const COMPOSING_RECHECK: Duration = Duration::seconds(1);

/// Most step ends written in one transaction.
pub const MAX_RECORD_BATCH: usize = 256;

/// What happened to a step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Sent and recorded.
    Sent,
    /// Put back, due later, for the reason given.
    Rescheduled(&'static str),
    /// Ended without a send for the reason given (a fallback may follow).
    Skipped(&'static str),
    /// The provider rejected it for good.
    Failed,
    /// Transient failures exhausted the retries: dead-lettered.
    Dead,
    /// An earlier claim reserved the send and did not finish: never repeated.
    Indeterminate,
}

impl Outcome {
    /// The `outcome` label of the steps counter.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Rescheduled(_) => "rescheduled",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed => "failed",
            Outcome::Dead => "dead",
            Outcome::Indeterminate => "indeterminate",
        }
    }
}

/// Runs the send path on claimed steps; cheap to clone. Its recorder task
/// runs until every clone is dropped.
#[derive(Clone)]
pub struct Sender {
    state: AppState,
    recorder: SetBatcher<Recorder>,
}

/// A step's end, waiting to be recorded, and the outcome it stands for.
struct Ending {
    end: StepEnd,
    outcome: Outcome,
    /// The caps and budget places to give back once it is recorded.
    release: Option<Held>,
}

impl Sender {
    /// A sender working through `state`; its recorder task is spawned on
    /// `state`'s platform.
    pub fn start(state: AppState) -> Self {
        let (recorder, task) = SetBatcher::new(
            Recorder::new(&state),
            MAX_RECORD_BATCH,
            ENGAGEMENT_RECORD_BATCH,
        );
        state.platform.spawn(move |_stop| task);
        Self { state, recorder }
    }

    /// Runs the send path on one step (a batch of one).
    pub async fn execute(&self, step: &ClaimedStep) -> Result<Outcome> {
        let mut results = self.execute_batch(vec![(step.clone(), ())]).await;
        results
            .pop()
            .map(|(_, result)| result)
            .unwrap_or_else(|| Err(Error::Batch("no result for the step".into())))
    }

    /// Runs the send path on `steps`, each with a token (a scheduler slot)
    /// dropped once the step's end is recorded. Returns each step with its
    /// outcome, in order; a step whose result is `Err` keeps its claim until
    /// the lease ends and is tried again then.
    pub async fn execute_batch<P: Send>(
        &self,
        steps: Vec<(ClaimedStep, P)>,
    ) -> Vec<(ClaimedStep, Result<Outcome>)> {
        metrics::histogram!(ENGAGEMENT_SEND_BATCH).record(steps.len() as f64);
        let span = tracing::info_span!("engagement.send_batch", steps = steps.len());
        let claimed: Vec<ClaimedStep> = steps.iter().map(|(s, _)| s.clone()).collect();
        let results = self.run(steps).instrument(span).await;
        claimed.into_iter().zip(results).collect()
    }

    async fn run<P: Send>(&self, steps: Vec<(ClaimedStep, P)>) -> Vec<Result<Outcome>> {
        let state = &self.state;
        let now = state.clock.now();
        let (claimed, tokens): (Vec<ClaimedStep>, Vec<P>) = steps.into_iter().unzip();
        let n = claimed.len();
        let whole = |e: &Error| -> Vec<Result<Outcome>> {
            (0..n).map(|_| Err(Error::Batch(e.to_string()))).collect()
        };
        let contexts = match gather::load(state.platform.db.primary(), &claimed).await {
            Ok(c) => c,
            Err(e) => return whole(&Error::from(e)),
        };
        let contents = match self.contents(&claimed).await {
            Ok(c) => c,
            Err(e) => return whole(&e),
        };

        // Decisions up to the template, in memory.
        let mut results: Vec<Option<Result<Outcome>>> = (0..n).map(|_| None).collect();
        let mut endings: Vec<(usize, Ending)> = Vec::new();
        let mut ready: Vec<(usize, Ready)> = Vec::new();
        for (i, step) in claimed.into_iter().enumerate() {
            let content = contents.get(&step.variant_id).and_then(Option::as_ref);
            let context = contexts.get(&step.id);
            match decide::decide(state, &step, context, content, now) {
                Decision::End(end, outcome) => endings.push((
                    i,
                    Ending {
                        end: StepEnd::new(step, end, now),
                        outcome,
                        release: None,
                    },
                )),
                Decision::Go(r) => ready.push((i, *r)),
            }
        }

        // Generated bodies, read for the steps whose variant asks for one.
        let ready = self
            .generations(ready, now, &mut results, &mut endings)
            .await;

        // Frequency caps, then the day budget of what passed them.
        let ready = self
            .reserve_places(ready, now, &mut results, &mut endings)
            .await;

        // Send reservations, one statement.
        let keyed: Vec<(&ClaimedStep, &str)> = ready
            .iter()
            .map(|(_, r, _)| (&r.step, r.route.provider.name()))
            .collect();
        let reserved = reservations::reserve_many(state.platform.db.primary(), &keyed).await;
        drop(keyed);
        let mut deliveries = Vec::new();
        match reserved {
            Ok(reserved) => {
                for ((i, ready, held), reserved) in ready.into_iter().zip(reserved) {
                    match reserved {
                        Reserved::Fresh(send_id) => deliveries.push((i, ready, held, send_id)),
                        Reserved::Existing { id, status } => {
                            endings.push((i, existing(ready.step, id, &status, held, now)));
                        }
                    }
                }
            }
            Err(e) => {
                let message = e.to_string();
                for (i, _, held) in ready {
                    held.release(state).await;
                    results[i] = Some(Err(Error::Batch(message.clone())));
                }
            }
        }

        // Provider calls, and every end recorded as it comes.
        let mut tokens: Vec<Option<P>> = tokens.into_iter().map(Some).collect();
        let ended = endings.into_iter().map(|(i, ending)| {
            let token = tokens[i].take();
            async move {
                let result = self.record(ending).await;
                drop(token);
                (i, result)
            }
        });
        let ended = join_all(ended.collect::<Vec<_>>());
        let sent = deliveries.into_iter().map(|(i, ready, held, send_id)| {
            let token = tokens[i].take();
            async move {
                let result = self.deliver(ready, held, send_id, now).await;
                drop(token);
                (i, result)
            }
        });
        let sent = join_all(sent.collect::<Vec<_>>());
        let (ended, sent) = tokio::join!(ended, sent);
        for (i, result) in ended.into_iter().chain(sent) {
            results[i] = Some(result);
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::Batch("a step without a result".into()))))
            .collect()
    }

    /// The content of each variant of `steps` (cached).
    async fn contents(
        &self,
        steps: &[ClaimedStep],
    ) -> Result<HashMap<Uuid, Option<VariantContent>>> {
        let mut variants: Vec<Uuid> = steps.iter().map(|s| s.variant_id).collect();
        variants.sort_unstable();
        variants.dedup();
        let pool = self.state.platform.db.primary();
        let loads = variants.iter().map(|&variant| async move {
            let content = self
                .state
                .variants
                .get_or_load(&variant.simple().to_string(), async {
                    campaigns::variant_content(pool, variant).await
                })
                .await?;
            Ok::<_, Error>((variant, content))
        });
        join_all(loads).await.into_iter().collect()
    }

    /// Reads the generation of each ready step whose variant asks for one
    /// (one statement): generated text replaces the template's body (an
    /// email gets the suite's footer); a fallback keeps the template; a step
    /// whose text is not written yet waits a moment ("composing"), until
    /// `llm.wait_secs` after it first came due, then goes with its template.
    async fn generations(
        &self,
        ready: Vec<(usize, Ready)>,
        now: DateTime<Utc>,
        results: &mut [Option<Result<Outcome>>],
        endings: &mut Vec<(usize, Ending)>,
    ) -> Vec<(usize, Ready)> {
        let Some(personaliser) = &self.state.personaliser else {
            return ready;
        };
        let wanting: Vec<Uuid> = ready
            .iter()
            .filter(|(_, r)| r.generated)
            .map(|(_, r)| r.step.id)
            .collect();
        if wanting.is_empty() {
            return ready;
        }
        let give_up =
            now - Duration::from_std(personaliser.config.wait).unwrap_or(Duration::minutes(2));
        let pool = self.state.platform.db.primary();
        let rows: HashMap<Uuid, Generation> =
            match generations::sync(pool, &wanting, now, give_up).await {
                Ok(rows) => rows.into_iter().map(|g| (g.step_id, g)).collect(),
                Err(e) => {
                    let message = e.to_string();
                    let mut kept = Vec::new();
                    for (i, r) in ready {
                        if r.generated {
                            results[i] = Some(Err(Error::Batch(message.clone())));
                        } else {
                            kept.push((i, r));
                        }
                    }
                    return kept;
                }
            };
        let mut kept = Vec::with_capacity(ready.len());
        let mut waiting = false;
        for (i, mut r) in ready {
            if !r.generated {
                kept.push((i, r));
                continue;
            }
            match rows.get(&r.step.id) {
                Some(g) if g.state == "done" => {
                    let body = g.body.clone().unwrap_or_default();
                    r.rendered.body = if r.step.channel == suite_domain::Channel::Email {
                        guardrails::with_footer(&body, &personaliser.config.email_footer)
                    } else {
                        body
                    };
                    r.generation_cost = Some(g.cost_micros);
                    kept.push((i, r));
                }
                Some(g) if g.state == "fallback" => {
                    if g.fallback_reason.as_deref() == Some("not_ready") {
                        metrics::counter!(LLM_FALLBACKS, "reason" => "not_ready").increment(1);
                    }
                    r.generation_cost = (g.cost_micros > 0).then_some(g.cost_micros);
                    kept.push((i, r));
                }
                _ => {
                    waiting = true;
                    endings.push((
                        i,
                        reschedule(r.step, now + COMPOSING_RECHECK, "composing", now, None),
                    ));
                }
            }
        }
        if waiting {
            personaliser.wake.notify_one();
        }
        kept
    }

    /// Takes each ready step's place under the lead's frequency caps (one
    /// script call per step, sent together), then its cost in the campaign's
    /// day budget (one script call per campaign). Returns the steps that
    /// hold both; the others end (rescheduled) or fail in `results`.
    async fn reserve_places(
        &self,
        ready: Vec<(usize, Ready)>,
        now: DateTime<Utc>,
        results: &mut [Option<Result<Outcome>>],
        endings: &mut Vec<(usize, Ending)>,
    ) -> Vec<(usize, Ready, Held)> {
        let state = &self.state;
        let redis = &state.platform.redis;
        let decisions = join_all(ready.iter().map(|(_, r)| {
            caps::reserve(
                redis,
                LeadId::from(r.step.lead_id),
                r.step.channel,
                &r.key,
                now,
                state.config.caps,
            )
        }))
        .await;
        let mut passed: Vec<(usize, Ready, CapReservation)> = Vec::new();
        for ((i, r), decision) in ready.into_iter().zip(decisions) {
            let decision = match decision {
                Ok(d) => d,
                Err(e) => {
                    results[i] = Some(Err(e.into()));
                    continue;
                }
            };
            match (decision.allowed, decision.reservation) {
                (true, Some(cap)) => passed.push((i, r, cap)),
                _ => {
                    let at = decision.retry_at.unwrap_or(now + Duration::hours(1));
                    endings.push((i, reschedule(r.step, at, "frequency_cap", now, None)));
                }
            }
        }

        let mut by_campaign: BTreeMap<Uuid, Vec<(usize, Ready, CapReservation)>> = BTreeMap::new();
        for entry in passed {
            by_campaign
                .entry(entry.1.step.campaign_id)
                .or_default()
                .push(entry);
        }
        let answers = join_all(by_campaign.iter().map(|(&campaign, members)| {
            let sends: Vec<(&str, i64)> = members
                .iter()
                .map(|(_, r, _)| (r.key.as_str(), r.cost))
                .collect();
            let daily_budget = members[0].1.daily_budget;
            async move { budget::reserve_many(redis, campaign, &sends, daily_budget, now).await }
        }))
        .await;
        let mut out = Vec::new();
        for (members, answer) in by_campaign.into_values().zip(answers) {
            let places = match answer {
                Ok(places) => places,
                Err(e) => {
                    for (i, _, _) in members {
                        results[i] = Some(Err(Error::Batch(e.to_string())));
                    }
                    continue;
                }
            };
            for ((i, r, cap), place) in members.into_iter().zip(places) {
                match place {
                    Some(spend) => out.push((
                        i,
                        r,
                        Held {
                            cap,
                            spend: Some(spend),
                        },
                    )),
                    None => {
                        let held = Held { cap, spend: None };
                        let at = caps::next_day_start(now);
                        endings.push((i, reschedule(r.step, at, "budget_spent", now, Some(held))));
                    }
                }
            }
        }
        out
    }

    /// Gives back the places of an ending that holds some, then hands it to
    /// the recorder and waits for its set to commit.
    async fn record(&self, ending: Ending) -> Result<Outcome> {
        if let Some(held) = &ending.release {
            held.release(&self.state).await;
        }
        let step_id = ending.end.step.id;
        match self.recorder.submit(ending.end).await {
            Ok(true) => Ok(ending.outcome),
            Ok(false) => {
                tracing::warn!(step_id = %step_id, "step claim expired before its end was recorded");
                Ok(ending.outcome)
            }
            Err(e) => Err(Error::Batch(e.to_string())),
        }
    }

    /// The provider call of a reserved step, under the step's span, and its
    /// end recorded.
    async fn deliver(
        &self,
        ready: Ready,
        held: Held,
        send_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Outcome> {
        let step = &ready.step;
        let span = tracing::info_span!(
            "engagement.send",
            step_id = %step.id,
            plan_id = %step.plan_id,
            lead_id = %step.lead_id,
            campaign_id = %step.campaign_id,
            channel = %step.channel,
            correlation_id = %step.correlation_id,
        );
        // The send continues the lead's trace (kept with its plan), not the
        // scheduler's batch that happened to claim it.
        if let Some(traceparent) = &step.traceparent {
            suite_bus::continue_trace(&span, traceparent);
        }
        let message = OutgoingMessage {
            idempotency_key: ready.key.clone(),
            send_id,
            lead_id: step.lead_id,
            campaign_id: step.campaign_id,
            channel: step.channel,
            to: ready.address.clone(),
            subject: ready.rendered.subject.clone(),
            body: ready.rendered.body.clone(),
        };
        let delivery = deliver::deliver(&ready.route, &message, &self.state.config.retry)
            .instrument(span.clone())
            .await;
        let ending = ended(ready, held, send_id, delivery, now, &span);
        let memory = ending.end.sent.as_ref().map(|sent| {
            MemoryEntry::message(
                now,
                ending.end.step.channel.as_str(),
                ending.end.step.campaign_id,
                sent.subject.clone(),
                &sent.body,
            )
        });
        let lead = ending.end.step.lead_id;
        let outcome = self.record(ending).instrument(span.clone()).await?;
        if let Some(entry) = memory {
            self.state.memory.remember(lead, &entry).await;
        }
        span.in_scope(|| tracing::debug!(outcome = outcome.label(), "step executed"));
        Ok(outcome)
    }
}

/// How a delivery ends its step.
fn ended(
    ready: Ready,
    held: Held,
    send_id: Uuid,
    delivery: Delivery,
    now: DateTime<Utc>,
    span: &tracing::Span,
) -> Ending {
    let channel = ready.step.channel;
    let provider = ready.route.provider.name().to_owned();
    match delivery {
        Delivery::Sent { receipt, calls } => {
            let mut end = StepEnd::new(
                ready.step,
                End::Finish {
                    status: "sent",
                    reason: "sent",
                    next: None,
                },
                now,
            );
            end.settle = Some(Settle {
                send_id,
                status: "sent",
                calls,
                provider_message_id: receipt.provider_message_id,
                error: None,
            });
            end.sent = Some(SentMessage {
                send_id,
                provider,
                subject: ready.rendered.subject,
                body: ready.rendered.body,
                at: now,
                traceparent: span.in_scope(suite_bus::current_traceparent),
                generation_cost: ready.generation_cost,
            });
            Ending {
                end,
                outcome: Outcome::Sent,
                release: None,
            }
        }
        Delivery::Refused { retry_after } => {
            let at = now + Duration::from_std(retry_after).unwrap_or(Duration::seconds(30));
            let mut ending = reschedule(ready.step, at, "breaker_open", now, Some(held));
            ending.end.abandon = Some(send_id);
            ending
        }
        Delivery::Permanent { failure, calls } => {
            let error = format!("{failure:?}");
            span.in_scope(|| tracing::info!(error, "permanent provider failure; falling back"));
            let next = decide::next_avoiding(&ready.step, &[channel]);
            let mut end = StepEnd::new(
                ready.step,
                End::Finish {
                    status: "failed",
                    reason: "permanent_failure",
                    next,
                },
                now,
            );
            end.settle = Some(failed(send_id, calls, error));
            Ending {
                end,
                outcome: Outcome::Failed,
                release: Some(held),
            }
        }
        Delivery::Exhausted { failure, calls } => {
            let error = format!("{failure:?}");
            span.in_scope(|| {
                tracing::warn!(
                    error,
                    calls,
                    "provider retries exhausted; dead-lettered, falling back"
                )
            });
            let next = decide::next_avoiding(&ready.step, &[channel]);
            let mut end = StepEnd::new(
                ready.step,
                End::Finish {
                    status: "dead",
                    reason: "retries_exhausted",
                    next,
                },
                now,
            );
            end.dead_letter = Some(DeadLetter {
                send_id: Some(send_id),
                class: "transient_exhausted",
                message: error.clone(),
            });
            end.settle = Some(failed(send_id, calls, error));
            Ending {
                end,
                outcome: Outcome::Dead,
                release: Some(held),
            }
        }
    }
}

fn failed(send_id: Uuid, calls: u32, error: String) -> Settle {
    Settle {
        send_id,
        status: "failed",
        calls,
        provider_message_id: None,
        error: Some(error),
    }
}

fn reschedule(
    step: ClaimedStep,
    at: DateTime<Utc>,
    reason: &'static str,
    now: DateTime<Utc>,
    release: Option<Held>,
) -> Ending {
    tracing::debug!(step_id = %step.id, reason, due_at = %at, "step rescheduled");
    Ending {
        end: StepEnd::new(step, End::Reschedule { at, reason }, now),
        outcome: Outcome::Rescheduled(reason),
        release,
    }
}

/// The key of `step` was reserved before, by reservation `id` in `status`.
fn existing(step: ClaimedStep, id: Uuid, status: &str, held: Held, now: DateTime<Utc>) -> Ending {
    match status {
        "sent" => Ending {
            end: StepEnd::new(
                step,
                End::Finish {
                    status: "sent",
                    reason: "already_sent",
                    next: None,
                },
                now,
            ),
            outcome: Outcome::Sent,
            release: None,
        },
        "reserved" => {
            // A claim before this one reserved the send and never finished:
            // the provider may have the message. Never send it again.
            let mut end = StepEnd::new(
                step,
                End::Finish {
                    status: "indeterminate",
                    reason: "claim_lost_during_send",
                    next: None,
                },
                now,
            );
            end.settle = Some(Settle {
                send_id: id,
                status: "indeterminate",
                calls: 0,
                provider_message_id: None,
                error: Some("claim lost during the provider call".into()),
            });
            end.dead_letter = Some(DeadLetter {
                send_id: Some(id),
                class: "indeterminate",
                message: "the process died during the provider call; not repeated".into(),
            });
            Ending {
                end,
                outcome: Outcome::Indeterminate,
                release: None,
            }
        }
        other => {
            let next = decide::next_avoiding(&step, &[step.channel]);
            Ending {
                end: StepEnd::new(
                    step,
                    End::Finish {
                        status: "failed",
                        reason: "already_failed",
                        next,
                    },
                    now,
                ),
                outcome: Outcome::Failed,
                // Nothing went out: the places taken again for this attempt go back.
                release: (other == "failed").then_some(held),
            }
        }
    }
}

/// The places a send holds until it is made: one under the lead's frequency
/// caps and, once reserved, its cost in the campaign's day budget.
struct Held {
    cap: CapReservation,
    spend: Option<BudgetReservation>,
}

impl Held {
    /// Gives the places back when no message went out (failures are logged:
    /// a place not given back only expires with its window).
    async fn release(&self, state: &AppState) {
        let redis = &state.platform.redis;
        if let Err(e) = caps::release(redis, &self.cap).await {
            tracing::warn!(error = %e, "frequency cap place not released");
        }
        if let Some(spend) = &self.spend {
            if let Err(e) = budget::release(redis, spend).await {
                tracing::warn!(error = %e, "budget place not released");
            }
        }
    }
}
