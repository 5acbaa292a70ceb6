//! Shared state of the handlers, the consumer and the optimizer.

use std::time::Duration;

use suite_app::Platform;
use suite_config::CacheSettings;
use suite_store::TwoLevelCache;
use uuid::Uuid;

use crate::api::performance::PerformanceReport;
use crate::store::campaigns::CampaignView;

/// Performance reports live briefly: they change with every refresh of
/// the summary (and are invalidated by it), so a short TTL bounds how
/// stale a report read from a lagging replica can stay.
const PERFORMANCE_L1_TTL_SECS: u64 = 2;
const PERFORMANCE_L2_TTL: Duration = Duration::from_secs(5);

/// State of every route, the consumer and the background tasks.
#[derive(Clone)]
pub struct AppState {
    /// Connections and background machinery.
    pub platform: Platform,
    /// Campaigns by workspace and id.
    pub campaigns: TwoLevelCache<CampaignView>,
    /// Performance reports by workspace and campaign.
    pub performance: TwoLevelCache<PerformanceReport>,
    /// The prefixed `campaigns.allocations` topic.
    pub allocations_topic: String,
    /// The prefixed `campaigns.definitions` topic.
    pub definitions_topic: String,
}

impl AppState {
    /// Builds the state and starts the caches' invalidation listeners.
    pub fn new(platform: Platform) -> Self {
        let settings = &platform.settings;
        let campaigns = TwoLevelCache::new(
            "campaign",
            platform.redis.clone(),
            &settings.cache,
            Some(Duration::from_secs(300)),
        );
        let short = CacheSettings {
            l1_ttl_secs: PERFORMANCE_L1_TTL_SECS,
            ..settings.cache.clone()
        };
        let performance = TwoLevelCache::new(
            "campaign-performance",
            platform.redis.clone(),
            &short,
            Some(PERFORMANCE_L2_TTL),
        );
        let allocations_topic = settings.topic(suite_domain::topics::CAMPAIGN_ALLOCATIONS);
        let definitions_topic = settings.topic(suite_domain::topics::CAMPAIGN_DEFINITIONS);
        let state = Self {
            platform,
            campaigns,
            performance,
            allocations_topic,
            definitions_topic,
        };
        for listener in [
            state
                .campaigns
                .spawn_invalidation_listener(state.platform.shutdown.clone()),
            state
                .performance
                .spawn_invalidation_listener(state.platform.shutdown.clone()),
        ] {
            state.platform.tasks.spawn(async move {
                let _ = listener.await;
            });
        }
        state
    }

    /// Drops cached copies of the campaign and its performance report,
    /// here and on every other instance, after recording the write position
    /// for the campaign: whoever loads them again reads a replica that has
    /// the change, so a lagging replica cannot put the old state back in the
    /// cache for the cache's TTL (the writer may be a background task, not
    /// the reader: read-your-writes per client would not see it).
    pub async fn invalidate(&self, workspace: Uuid, campaign: Uuid) {
        let key = cache_key(workspace, campaign);
        if let Err(err) = self.platform.db.note_write(&reader(&key)).await {
            tracing::warn!(error = %err, "campaign write position not recorded");
        }
        self.campaigns.invalidate(&key).await;
        self.performance.invalidate(&key).await;
    }
}

/// The read-your-writes client under which a campaign's cached copies are
/// loaded ([`AppState::invalidate`] records every change under it).
pub fn reader(cache_key: &str) -> String {
    format!("campaign:{cache_key}")
}

/// Cache key of a campaign (and of its performance report).
pub fn cache_key(workspace: Uuid, campaign: Uuid) -> String {
    format!("{}:{}", workspace.simple(), campaign.simple())
}
