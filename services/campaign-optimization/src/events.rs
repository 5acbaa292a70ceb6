//! The `campaign.allocation.v1` event (schema: `suite_domain` and docs/events.md).

use suite_bus::CloudEvent;
use suite_domain::CampaignAllocationV1;

use crate::error::Error;

/// CloudEvents `source` of every event this service emits.
pub const SOURCE: &str = "/campaign-optimization";

/// The CloudEvent carrying `allocation` (subject: the campaign id).
pub fn allocation_event(allocation: &CampaignAllocationV1) -> Result<CloudEvent, Error> {
    let data = serde_json::to_value(allocation).map_err(|e| {
        Error::Bus(suite_bus::BusError::from(suite_bus::CloudEventError::from(
            e,
        )))
    })?;
    Ok(CloudEvent::new(
        CampaignAllocationV1::CE_TYPE,
        SOURCE,
        Some(allocation.key()),
        data,
    ))
}
