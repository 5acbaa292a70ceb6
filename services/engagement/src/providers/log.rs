//! The `log` provider: the message is rendered and recorded (as every send
//! is, in `communications`) and logged without its content; nothing leaves
//! the process.

use super::{BoxFuture, OutgoingMessage, Provider, Receipt};
use crate::outreach::ProviderFailure;

/// Logs instead of delivering.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogProvider;

impl Provider for LogProvider {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(
        &'a self,
        message: &'a OutgoingMessage,
    ) -> BoxFuture<'a, Result<Receipt, ProviderFailure>> {
        Box::pin(async move {
            // Never the address or the content: both are personal data.
            tracing::info!(
                send_id = %message.send_id,
                lead_id = %message.lead_id,
                campaign_id = %message.campaign_id,
                channel = %message.channel,
                body_chars = message.body.chars().count(),
                "log provider: message rendered and recorded"
            );
            Ok(Receipt {
                provider_message_id: Some(format!("log-{}", message.send_id)),
            })
        })
    }
}
