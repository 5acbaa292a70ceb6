//! Shared state of the lead-triage handlers and consumers.

use std::sync::Arc;
use std::time::Duration;

use suite_app::Platform;
use suite_http::Principal;
use suite_store::TwoLevelCache;
use uuid::Uuid;

use crate::group_commit::GroupCommit;
use crate::store::models::Models;
use crate::store::view::LeadView;
use crate::store::writer::Writer;

/// State of every route and consumer.
#[derive(Clone)]
pub struct AppState {
    /// Connections and background machinery.
    pub platform: Platform,
    /// Scoring models per workspace (cached).
    pub models: Models,
    /// The lead read path cache.
    pub leads: TwoLevelCache<LeadView>,
    writer: Arc<Writer>,
    posts: GroupCommit,
}

impl AppState {
    /// Builds the state and starts the caches' invalidation listeners.
    pub fn new(platform: Platform) -> Self {
        let settings = &platform.settings;
        let leads = TwoLevelCache::new(
            "lead",
            platform.redis.clone(),
            &settings.cache,
            Some(Duration::from_secs(300)),
        );
        let models = Models::new(
            platform.db.primary().clone(),
            TwoLevelCache::new(
                "scoring-model",
                platform.redis.clone(),
                &settings.cache,
                Some(Duration::from_secs(3_600)),
            ),
        );
        let writer = Arc::new(Writer::new(settings.kafka.topic_prefix.clone()));
        let concurrent = (settings.database.max_connections / 2).max(1) as usize;
        let (posts, queue) = GroupCommit::channel();
        let state = Self {
            platform,
            models,
            leads,
            writer,
            posts,
        };
        let coordinator = state.clone();
        state.platform.spawn(move |stop| {
            crate::group_commit::coordinate(coordinator, queue, concurrent, stop)
        });
        for listener in [
            state
                .leads
                .spawn_invalidation_listener(state.platform.shutdown.clone()),
            state
                .models
                .cache()
                .spawn_invalidation_listener(state.platform.shutdown.clone()),
        ] {
            state.platform.tasks.spawn(async move {
                let _ = listener.await;
            });
        }
        state
    }

    /// The lead writer.
    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    /// Single lead posts, group-committed.
    pub fn posts(&self) -> &GroupCommit {
        &self.posts
    }

    /// After a committed write: remember the client's write position
    /// (read-your-writes) and drop cached copies of the touched leads.
    pub async fn after_write(&self, principal: &Principal, leads: &[Uuid]) {
        self.noted_write(&principal.client_id()).await;
        self.invalidate(principal.workspace_id, leads).await;
    }

    /// Remembers `client`'s write position after a commit (read-your-writes).
    pub async fn noted_write(&self, client: &str) {
        if let Err(err) = self.platform.db.note_write(client).await {
            tracing::warn!(error = %err, "read-your-writes position not recorded");
        }
    }

    /// Drops cached copies of `leads` here and on every other instance.
    pub async fn invalidate(&self, workspace: Uuid, leads: &[Uuid]) {
        for id in leads {
            self.leads
                .invalidate(&crate::api::leads::cache_key(workspace, *id))
                .await;
        }
    }
}
