//! Topic names (docs/architecture.md §3): the one list of the suite's topics.
//! `suite-admin topics` creates them (locally and in compose), and
//! `scripts/validate-deploy` checks the Kubernetes `KafkaTopic`s against it.
//! Every topic has a `.dlq` twin.

/// Leads from external producers, consumed by lead-triage.
pub const LEADS_INBOUND: &str = "leads.inbound";
/// Triaged hot leads.
pub const LEADS_HOT: &str = "leads.hot";
/// Triaged warm leads.
pub const LEADS_WARM: &str = "leads.warm";
/// Triaged nurture leads.
pub const LEADS_NURTURE: &str = "leads.nurture";
/// Triaged cold leads.
pub const LEADS_COLD: &str = "leads.cold";
/// Disqualified leads.
pub const LEADS_DISQUALIFIED: &str = "leads.disqualified";
/// Outreach interactions, consumed by campaign-optimization.
pub const ENGAGEMENT_INTERACTIONS: &str = "engagement.interactions";
/// Traffic allocations per campaign (compacted), consumed by engagement.
pub const CAMPAIGN_ALLOCATIONS: &str = "campaigns.allocations";
/// Each lead's contact data (compacted), consumed by engagement.
pub const LEADS_CONTACTS: &str = "leads.contacts";
/// Each campaign's definition (compacted), consumed by engagement.
pub const CAMPAIGN_DEFINITIONS: &str = "campaigns.definitions";

/// Every primary topic of the suite.
pub const ALL: [&str; 10] = [
    LEADS_INBOUND,
    LEADS_HOT,
    LEADS_WARM,
    LEADS_NURTURE,
    LEADS_COLD,
    LEADS_DISQUALIFIED,
    ENGAGEMENT_INTERACTIONS,
    CAMPAIGN_ALLOCATIONS,
    LEADS_CONTACTS,
    CAMPAIGN_DEFINITIONS,
];

/// The dead-letter twin of `topic`.
pub fn dlq(topic: &str) -> String {
    format!("{topic}.dlq")
}

/// Every topic including the dead-letter twins.
pub fn all_with_dlq() -> Vec<String> {
    ALL.iter().flat_map(|t| [(*t).to_owned(), dlq(t)]).collect()
}

/// Topics whose records are compacted by key: only the latest record per key
/// (per campaign, per lead) matters.
pub const COMPACTED: [&str; 3] = [CAMPAIGN_ALLOCATIONS, LEADS_CONTACTS, CAMPAIGN_DEFINITIONS];

/// Whether `topic` (a primary topic name, without prefix) is compacted.
pub fn is_compacted(topic: &str) -> bool {
    COMPACTED.contains(&topic)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_has_a_dlq_twin_and_only_the_state_topics_are_compacted() {
        let all = all_with_dlq();
        assert_eq!(all.len(), 2 * ALL.len());
        assert!(all.contains(&"leads.inbound.dlq".to_owned()));
        assert!(is_compacted("campaigns.allocations"));
        assert!(is_compacted("leads.contacts"));
        assert!(is_compacted("campaigns.definitions"));
        assert!(!is_compacted("campaigns.allocations.dlq"));
        assert!(!is_compacted("leads.hot"));
    }
}
