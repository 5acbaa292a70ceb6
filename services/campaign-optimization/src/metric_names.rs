//! Metric names of this service, described once at startup.

/// Interactions handled by the consumer, by `outcome` (counted, duplicate, ignored).
pub const INTERACTIONS: &str = "campaign_interactions_total";
/// Allocations enqueued for `campaigns.allocations`, by `reason`.
pub const ALLOCATIONS_PUBLISHED: &str = "campaign_allocations_published_total";
/// Interactions counted per transaction by the batcher.
pub const INTERACTION_BATCH_SIZE: &str = "campaign_interaction_batch_size";
/// Duration of one refresh of `campaign_performance_summary`.
pub const SUMMARY_REFRESH_SECONDS: &str = "campaign_summary_refresh_seconds";

/// Registers the descriptions of this service's metrics.
pub fn describe() {
    metrics::describe_counter!(
        INTERACTIONS,
        "Interactions handled by the consumer, by outcome"
    );
    metrics::describe_counter!(
        ALLOCATIONS_PUBLISHED,
        "Allocations enqueued for campaigns.allocations, by reason"
    );
    metrics::describe_histogram!(
        INTERACTION_BATCH_SIZE,
        "Interactions counted per transaction by the batcher"
    );
    metrics::describe_histogram!(
        SUMMARY_REFRESH_SECONDS,
        metrics::Unit::Seconds,
        "Duration of one concurrent refresh of campaign_performance_summary"
    );
}
