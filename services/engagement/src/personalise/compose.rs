//! The composer: every engagement instance claims steps due within the
//! lookahead whose variant asks for a generated message
//! ([`generations::claim`]), writes each (cache, budget, limits, the call,
//! guardrails) with at most `llm.concurrency` in flight, and records them
//! in sets as they end ([`generations::finish`]). A claim holds for a lease,
//! so a generation whose instance died is taken over; the budget place is
//! keyed by the step, so a generation retried costs once.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use suite_bus::batch::{SetBatcher, SetWork};
use suite_bus::HandlerError;
use suite_telemetry::names::{ENGAGEMENT_GENERATION_BATCH, LLM_CACHE_HITS, LLM_FALLBACKS};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::cache::{self, Cached};
use super::call::call;
use super::guardrails;
use super::limits;
use super::prompt::{self, PromptInputs};
use super::{FallbackReason, Personaliser};
use crate::error::{Error, Result};
use crate::memory::KEEP;
use crate::outreach::budget;
use crate::state::AppState;
use crate::store::campaigns;
use crate::store::generations::{self, ComposeTask, Finished};

/// Most generations recorded per statement.
const MAX_FINISH_BATCH: usize = 128;

/// Records finished generations as sets.
struct Writer {
    pool: sqlx::PgPool,
}

impl SetWork for Writer {
    type Item = Finished;
    type Output = ();
    type Error = Error;

    async fn apply(
        &self,
        items: &[Finished],
    ) -> Result<Vec<std::result::Result<(), HandlerError>>> {
        generations::finish(&self.pool, items).await?;
        Ok(items.iter().map(|_| Ok(())).collect())
    }
}

/// Runs the composer until `stop`; then waits for the generations in flight.
pub async fn run(state: AppState, personaliser: Arc<Personaliser>, stop: CancellationToken) {
    let (writer, task) = SetBatcher::new(
        Writer {
            pool: state.platform.db.primary().clone(),
        },
        MAX_FINISH_BATCH,
        ENGAGEMENT_GENERATION_BATCH,
    );
    state.platform.spawn(move |_stop| task);
    let config = &personaliser.config;
    let poll = state.config.poll;
    let in_flight = TaskTracker::new();
    let lookahead = Duration::from_std(config.lookahead).unwrap_or(Duration::minutes(5));
    let lease = Duration::from_std(config.lease).unwrap_or(Duration::minutes(10));
    while !stop.is_cancelled() {
        let free = personaliser.slots.available_permits();
        let limit = config.batch.min(i64::try_from(free).unwrap_or(0));
        let mut claimed_full = false;
        if limit > 0 {
            let now = state.clock.now();
            let pool = state.platform.db.primary();
            match generations::claim(pool, now, now + lookahead, now + lease, limit).await {
                Ok(tasks) => {
                    claimed_full = tasks.len() as i64 == limit;
                    for task in tasks {
                        let Ok(slot) = personaliser.slots.clone().acquire_owned().await else {
                            break;
                        };
                        let (state, personaliser, writer) =
                            (state.clone(), personaliser.clone(), writer.clone());
                        in_flight.spawn(async move {
                            let step = task.step_id;
                            let finished = compose(&state, &personaliser, task).await;
                            drop(slot);
                            if let Err(e) = writer.submit(finished).await {
                                tracing::warn!(step_id = %step, error = %e, "generation not recorded; retried after its lease");
                            }
                            // A due step may be waiting for this text.
                            state.wake.notify_waiters();
                        });
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming steps to compose failed"),
            }
        }
        if claimed_full {
            continue;
        }
        tokio::select! {
            () = stop.cancelled() => break,
            () = personaliser.wake.notified() => {}
            () = tokio::time::sleep(poll) => {}
        }
    }
    in_flight.close();
    in_flight.wait().await;
}

/// Writes one step's message; never fails (a failure is a fallback).
async fn compose(state: &AppState, p: &Personaliser, task: ComposeTask) -> Finished {
    let span = tracing::info_span!(
        "engagement.generate",
        step_id = %task.step_id,
        lead_id = %task.lead_id,
        campaign_id = %task.campaign_id,
        channel = %task.channel,
        model = tracing::field::Empty,
        cache_hit = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    // The generation belongs to the lead's trace, like the send after it.
    if let Some(traceparent) = &task.traceparent {
        suite_bus::continue_trace(&span, traceparent);
    }
    let finished = generate(state, p, &task).instrument(span.clone()).await;
    let outcome = finished.fallback_reason.unwrap_or(finished.state);
    span.record("outcome", outcome);
    if let Some(reason) = finished.fallback_reason {
        metrics::counter!(LLM_FALLBACKS, "reason" => reason).increment(1);
    }
    finished
}

async fn generate(state: &AppState, p: &Personaliser, task: &ComposeTask) -> Finished {
    let base = Finished {
        step_id: task.step_id,
        attempts: task.attempts,
        ..Finished::default()
    };
    let fallback = |base: Finished, reason: FallbackReason| Finished {
        state: "fallback",
        fallback_reason: Some(reason.as_str()),
        ..base
    };
    let pool = state.platform.db.primary();
    let variant = task.variant_id;
    let content = state
        .variants
        .get_or_load(&variant.simple().to_string(), async {
            campaigns::variant_content(pool, variant).await
        })
        .await;
    let template = match content {
        Ok(Some(content)) => content.get(&task.channel).cloned(),
        Ok(None) => None,
        Err(e) => {
            // Tried again once the lease ends.
            tracing::warn!(error = %e, "variant content unavailable");
            return Finished {
                state: "composing",
                lease_until: Some(state.clock.now() + Duration::seconds(5)),
                ..base
            };
        }
    };
    let Some((template, spec)) = template.and_then(|t| t.generation.clone().map(|spec| (t, spec)))
    else {
        return fallback(base, FallbackReason::PromptError);
    };
    let Some(lead) = task.lead.clone() else {
        return fallback(base, FallbackReason::PromptError);
    };
    let model = spec.model.clone().unwrap_or_else(|| p.config.model.clone());
    let version = spec.version(&model);
    tracing::Span::current().record("model", model.as_str());
    let base = Finished {
        model: Some(model.clone()),
        prompt_version: Some(version.clone()),
        ..base
    };
    let inputs = PromptInputs {
        lead,
        category: task.category.clone(),
        score: task.score,
        breakdown: task.breakdown.clone(),
        conversation: state
            .memory
            .recent(task.lead_id, KEEP)
            .await
            .unwrap_or_default(),
    };
    let rendered = match prompt::render(&spec.prompt, &inputs) {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(error = %e, "prompt does not render");
            return fallback(base, FallbackReason::PromptError);
        }
    };
    let own = format!(
        "{} {}",
        template.subject.as_deref().unwrap_or(""),
        template.body
    );
    let max_chars = spec.max_chars_for(task.channel);
    let redis = &state.platform.redis;
    let cache_key = (spec.deterministic() && p.config.cache_ttl_secs > 0)
        .then(|| cache::key(&model, &version, task.channel.as_str(), &rendered));
    if let Some(key) = &cache_key {
        if let Some(hit) = state.answers.get(key).await {
            if let Ok(text) = guardrails::check(&hit.text, max_chars, &own) {
                metrics::counter!(LLM_CACHE_HITS).increment(1);
                tracing::Span::current().record("cache_hit", true);
                return Finished {
                    state: "done",
                    body: Some(text),
                    cache_hit: true,
                    cache_key: Some(key.clone()),
                    ..base
                };
            }
        }
    }
    let now = state.clock.now();
    let tokens = prompt::estimate_tokens(&rendered) + 100 + spec.max_tokens;
    let estimate = p.prices.cost(
        &model,
        u64::from(tokens - spec.max_tokens),
        spec.max_tokens.into(),
    );
    let token = format!("gen:{}", task.step_id);
    let place = match budget::reserve_many(
        redis,
        task.campaign_id,
        &[(token.as_str(), estimate)],
        task.daily_budget,
        now,
    )
    .await
    {
        Ok(mut places) => places.pop().flatten(),
        Err(e) => {
            tracing::warn!(error = %e, "budget unavailable; generation put off");
            return put_off(base, now + Duration::seconds(5));
        }
    };
    let Some(place) = place else {
        return fallback(base, FallbackReason::Budget);
    };
    match limits::take(redis, task.workspace_id, tokens, p.config.limits, now).await {
        Ok(None) => {}
        Ok(Some(room_at)) => {
            release(state, &place).await;
            let waited_enough = task.requested_at.is_some_and(|at| {
                room_at >= at + Duration::from_std(p.config.wait).unwrap_or_default()
            });
            if p.config.wait_on_limit && !waited_enough {
                tracing::debug!(%room_at, "workspace over its language-model limits; put off");
                return put_off(base, room_at);
            }
            return fallback(base, FallbackReason::RateLimited);
        }
        Err(e) => {
            release(state, &place).await;
            tracing::warn!(error = %e, "limits unavailable; generation put off");
            return put_off(base, now + Duration::seconds(5));
        }
    }
    let request = prompt::request(&spec, &model, task.channel, &rendered);
    let started = Instant::now();
    // Every retry takes its own place in the workspace's minute.
    let workspace = task.workspace_id;
    let retry_place = || async move {
        let now = state.clock.now();
        match limits::take(redis, workspace, tokens, p.config.limits, now).await {
            Ok(None) => None,
            Ok(Some(at)) => Some((at - now).to_std().unwrap_or_default()),
            Err(e) => {
                tracing::warn!(error = %e, "limits unavailable; retry put off");
                Some(std::time::Duration::from_secs(1))
            }
        }
    };
    let answered = call(&p.client, &p.breaker, &p.retry, &request, retry_place).await;
    let latency_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let base = Finished { latency_ms, ..base };
    let answered = match answered {
        Ok(a) => a,
        Err(failed) => {
            release(state, &place).await;
            return fallback(base, failed.reason);
        }
    };
    let c = answered.completion;
    let cost = p
        .prices
        .cost(&model, c.tokens_in.into(), c.tokens_out.into());
    if let Err(e) = budget::settle(redis, &place, cost).await {
        tracing::warn!(error = %e, "generation cost not settled; the estimate stays charged");
    }
    let base = Finished {
        tokens_in: i32::try_from(c.tokens_in).unwrap_or(i32::MAX),
        tokens_out: i32::try_from(c.tokens_out).unwrap_or(i32::MAX),
        cost_micros: cost,
        ..base
    };
    match guardrails::check(&c.text, max_chars, &own) {
        Ok(text) => {
            if let Some(key) = &cache_key {
                state.answers.put(key, Cached { text: text.clone() }).await;
            }
            Finished {
                state: "done",
                body: Some(text),
                cache_key,
                ..base
            }
        }
        Err(breach) => {
            // The breach is described; the text itself is never logged.
            tracing::info!(
                breach = breach.kind(),
                "completion refused by the guardrails"
            );
            fallback(base, FallbackReason::Guardrail)
        }
    }
}

/// Tried again (by any composer) after `at`.
fn put_off(base: Finished, at: DateTime<Utc>) -> Finished {
    Finished {
        state: "composing",
        lease_until: Some(at),
        ..base
    }
}

async fn release(state: &AppState, place: &budget::BudgetReservation) {
    if let Err(e) = budget::release(&state.platform.redis, place).await {
        tracing::warn!(error = %e, "budget place not released");
    }
}
