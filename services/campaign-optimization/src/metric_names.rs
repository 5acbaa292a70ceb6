//! Metric names of this service, described once at startup.

/// Interactions handled by the consumer, by `outcome` (counted, duplicate, ignored).
pub const INTERACTIONS: &str = "campaign_interactions_total";
/// Allocations enqueued for `campaigns.allocations`, by `reason`.
pub const ALLOCATIONS_PUBLISHED: &str = "campaign_allocations_published_total";
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
        SUMMARY_REFRESH_SECONDS,
        metrics::Unit::Seconds,
        "Duration of one concurrent refresh of campaign_performance_summary"
    );
}
