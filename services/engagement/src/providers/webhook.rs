//! The `webhook` provider: a JSON POST of the message to a gateway URL
//! (SMS and voice gateways), with the send key as `Idempotency-Key`.

use std::time::Duration;

use suite_config::EngagementSettings;

use super::{BoxFuture, OutgoingMessage, Provider, Receipt};
use crate::outreach::ProviderFailure;

/// Posts messages to a configured URL.
#[derive(Debug, Clone)]
pub struct WebhookProvider {
    client: reqwest::Client,
    url: String,
}

impl WebhookProvider {
    /// A provider posting to `engagement.webhook_url`.
    pub fn new(s: &EngagementSettings) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(s.webhook_timeout_ms))
            .build()?;
        Ok(Self {
            client,
            url: s.webhook_url.clone(),
        })
    }
}

/// The gateway's optional answer body.
#[derive(serde::Deserialize)]
struct Answer {
    id: Option<String>,
}

impl Provider for WebhookProvider {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(
        &'a self,
        message: &'a OutgoingMessage,
    ) -> BoxFuture<'a, Result<Receipt, ProviderFailure>> {
        Box::pin(async move {
            let response = self
                .client
                .post(&self.url)
                .header("idempotency-key", &message.idempotency_key)
                .json(message)
                .send()
                .await
                .map_err(|e| {
                    if e.is_timeout() {
                        ProviderFailure::Timeout
                    } else {
                        ProviderFailure::Connect
                    }
                })?;
            let status = response.status();
            if !status.is_success() {
                return Err(ProviderFailure::Http {
                    status: status.as_u16(),
                });
            }
            let id = response
                .json::<Answer>()
                .await
                .ok()
                .and_then(|a| a.id)
                .filter(|id| id.len() <= 200);
            Ok(Receipt {
                provider_message_id: id,
            })
        })
    }
}
