//! The `engagement.interactions` consumer: counts every interaction of a
//! campaign's variant exactly once, adds the spend of sends to the day's
//! spend, and pauses a campaign whose day's budget is spent (or holds it
//! back while spend runs ahead of the daily pace).
//!
//! - Exactly-once effects: the interaction id (the CloudEvents id) is
//!   recorded in `processed_events` in the transaction that changes the
//!   counters, so a redelivered event changes nothing.
//! - Set-based writes: handlers hand their interactions to one [`Batcher`],
//!   which counts everything that queued up while the previous batch was
//!   committing in one transaction, with a constant number of statements
//!   ([`count_batch`]: aggregated per variant, day and campaign; the budget
//!   checked once per campaign), then answers each handler. An interaction
//!   that names an unknown campaign or variant is refused alone; if the
//!   batch's transaction fails, each interaction is retried on its own. A
//!   handler returns — and its offset is stored — only after its batch
//!   committed.
//! - Shares are not recomputed per interaction: the optimizer revisits
//!   campaigns with new interactions once per tick ([`crate::optimizer`]).

mod batch;
mod count;

pub use batch::Batcher;
pub use count::{count_batch, publish_current, Outcome};

use suite_bus::{Handler, HandlerError, Record};
use suite_domain::InteractionV1;

/// Consumer name in `processed_events`.
pub const CONSUMER: &str = "campaign-optimization.interactions";

/// Handles `engagement.interactions` records through a [`Batcher`].
pub struct InteractionHandler {
    batcher: Batcher,
}

impl InteractionHandler {
    /// A handler counting through `batcher`.
    pub fn new(batcher: Batcher) -> Self {
        Self { batcher }
    }
}

fn invalid(class: &str, message: impl std::fmt::Display) -> HandlerError {
    HandlerError::permanent(class, message)
}

/// Decodes a record into an interaction: a binary- or structured-mode
/// CloudEvent of type `engagement.interaction.v1` whose id is the
/// interaction id.
pub fn decode(record: &Record) -> Result<InteractionV1, HandlerError> {
    let event = record
        .cloud_event()
        .map_err(|e| invalid("invalid_event", e))?;
    if event.type_ != InteractionV1::CE_TYPE {
        return Err(invalid(
            "unexpected_type",
            format!("expected {}, got {}", InteractionV1::CE_TYPE, event.type_),
        ));
    }
    let interaction: InteractionV1 = event
        .data_as()
        .map_err(|e| invalid("invalid_interaction", e))?;
    if event.id != interaction.interaction_id.to_string() {
        return Err(invalid(
            "invalid_interaction",
            "the CloudEvents id must be the interaction_id",
        ));
    }
    Ok(interaction)
}

impl Handler for InteractionHandler {
    async fn handle(&self, record: &Record) -> Result<(), HandlerError> {
        let interaction = decode(record)?;
        let (id, correlation, kind) = (
            interaction.interaction_id,
            interaction.correlation_id.clone(),
            interaction.kind,
        );
        let campaign = interaction.campaign_id;
        let outcome = self.batcher.count(interaction).await?;
        // Inside the record's span (parented on its traceparent), so logs
        // and traces follow the lead's correlation id across the agents.
        tracing::debug!(
            interaction_id = %id,
            correlation_id = %correlation,
            campaign_id = ?campaign.map(|c| c.to_string()),
            kind = %kind,
            outcome = ?outcome,
            "interaction handled"
        );
        metrics::counter!(crate::metric_names::INTERACTIONS, "outcome" => match outcome {
            Outcome::Counted { .. } => "counted",
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored",
        })
        .increment(1);
        Ok(())
    }

    /// Interactions are keyed by campaign, so one busy campaign's records
    /// share a key; counting commutes (each interaction is deduped by id in
    /// the transaction that counts it), so they need not wait for each other
    /// and the batcher gets whole batches to group-commit.
    fn ordered_by_key(&self) -> bool {
        false
    }

    /// The batcher commits every queued interaction in one transaction, so
    /// records in flight share its connection; bounding them would only cap
    /// the batch size.
    fn connection_per_record(&self) -> bool {
        false
    }
}
