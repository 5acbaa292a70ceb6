//! Shared state of the engagement routes, consumer and scheduler.

use std::sync::Arc;
use std::time::Duration;

use suite_app::Platform;
use suite_store::TwoLevelCache;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::api::context::CachedContext;
use crate::clock::SharedClock;
use crate::config::SendConfig;
use crate::memory::Memory;
use crate::personalise::cache::Cached;
use crate::personalise::Personaliser;
use crate::providers::Providers;
use crate::store::campaigns::{CampaignTarget, VariantContent};
use crate::store::reads::Conversation;

/// State of every route, the consumer and the scheduler.
#[derive(Clone)]
pub struct AppState {
    /// Connections and background machinery.
    pub platform: Platform,
    /// The send path's settings.
    pub config: Arc<SendConfig>,
    /// "Now" of the send path.
    pub clock: SharedClock,
    /// The provider of each channel.
    pub providers: Providers,
    /// The active campaign per (workspace, category).
    pub targets: TwoLevelCache<CampaignTarget>,
    /// Variant templates.
    pub variants: TwoLevelCache<VariantContent>,
    /// Conversations per lead.
    pub conversations: TwoLevelCache<Conversation>,
    /// Each lead's whole context (memory and caps included).
    pub contexts: TwoLevelCache<CachedContext>,
    /// Language-model answers at temperature 0 (docs/personalisation.md),
    /// kept `llm.cache_ttl_secs`.
    pub answers: TwoLevelCache<Cached>,
    /// Short-term memory per lead.
    pub memory: Memory,
    /// Wakes the scheduler when a step became due now.
    pub wake: Arc<Notify>,
    /// The prefixed `engagement.interactions` topic.
    pub interactions_topic: String,
    /// Writes messages with a language model; `None` when `llm` is off.
    pub personaliser: Option<Arc<Personaliser>>,
}

impl AppState {
    /// Builds the state and starts the caches' invalidation listeners.
    pub fn new(
        platform: Platform,
        config: SendConfig,
        clock: SharedClock,
        providers: Providers,
    ) -> Self {
        let settings = &platform.settings;
        let redis = &platform.redis;
        let ttl = |secs| Some(Duration::from_secs(secs));
        let state = Self {
            targets: TwoLevelCache::new("campaign-target", redis.clone(), &settings.cache, ttl(60)),
            variants: TwoLevelCache::new(
                "variant-content",
                redis.clone(),
                &settings.cache,
                ttl(300),
            ),
            conversations: TwoLevelCache::new(
                "conversation",
                redis.clone(),
                &settings.cache,
                ttl(300),
            ),
            contexts: TwoLevelCache::new("lead-context", redis.clone(), &settings.cache, ttl(300)),
            answers: TwoLevelCache::new(
                "llm-answer",
                redis.clone(),
                &settings.cache,
                ttl(settings.llm.cache_ttl_secs),
            ),
            memory: Memory::new(platform.redis.clone()),
            wake: Arc::new(Notify::new()),
            interactions_topic: settings.topic(suite_domain::topics::ENGAGEMENT_INTERACTIONS),
            personaliser: None,
            config: Arc::new(config),
            clock,
            providers,
            platform,
        };
        let shutdown = state.platform.shutdown.clone();
        for listener in [
            state.targets.spawn_invalidation_listener(shutdown.clone()),
            state.variants.spawn_invalidation_listener(shutdown.clone()),
            state
                .conversations
                .spawn_invalidation_listener(shutdown.clone()),
            state.contexts.spawn_invalidation_listener(shutdown.clone()),
            state.answers.spawn_invalidation_listener(shutdown),
        ] {
            state.platform.tasks.spawn(async move {
                let _ = listener.await;
            });
        }
        state
    }

    /// Cache key of a lead's conversation.
    pub fn conversation_key(workspace: Uuid, lead: Uuid) -> String {
        format!("{}:{}", workspace.simple(), lead.simple())
    }

    /// Cache key of the campaign targeting a category.
    pub fn target_key(workspace: Uuid, category: &str) -> String {
        format!("{}:{category}", workspace.simple())
    }

    /// Drops the cached conversation and context of a lead everywhere.
    pub async fn lead_changed(&self, workspace: Uuid, lead: Uuid) {
        let key = Self::conversation_key(workspace, lead);
        tokio::join!(
            self.conversations.invalidate(&key),
            self.contexts.invalidate(&key)
        );
    }
}
