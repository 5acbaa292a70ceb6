//! Outreach providers behind one trait: [`log`] (renders and records only;
//! the default for local runs), [`smtp`] (a real SMTP client) and
//! [`webhook`] (JSON POST to an SMS/voice gateway). Each provider has one
//! circuit breaker, shared by every channel it serves.

pub mod log;
pub mod smtp;
pub mod webhook;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use anyhow::Context as _;
use serde::Serialize;
use suite_config::EngagementSettings;
use suite_domain::Channel;
use uuid::Uuid;

use crate::outreach::{BreakerConfig, CircuitBreaker, ProviderFailure};

/// A boxed future, so [`Provider`] stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One rendered message on its way to a recipient.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingMessage {
    /// The send reservation's key `lead:campaign:step:channel`; providers
    /// that take an idempotency key get this one.
    pub idempotency_key: String,
    /// The send (communication) id.
    pub send_id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// The campaign.
    pub campaign_id: Uuid,
    /// The channel.
    pub channel: Channel,
    /// Email address or E.164 phone number.
    pub to: String,
    /// Subject (email).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// Body.
    pub body: String,
}

/// What a provider answered on success.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id of the message, when it gives one.
    pub provider_message_id: Option<String>,
}

/// A way to deliver messages.
pub trait Provider: Send + Sync + 'static {
    /// Stable name (`log`, `smtp`, `webhook`): breaker label and stored with each send.
    fn name(&self) -> &'static str;

    /// Delivers `message` once.
    fn send<'a>(
        &'a self,
        message: &'a OutgoingMessage,
    ) -> BoxFuture<'a, Result<Receipt, ProviderFailure>>;
}

/// A provider with its breaker.
#[derive(Clone)]
pub struct Route {
    /// The provider.
    pub provider: Arc<dyn Provider>,
    /// Its breaker.
    pub breaker: CircuitBreaker,
}

/// The provider of each channel.
#[derive(Clone)]
pub struct Providers {
    routes: BTreeMap<Channel, Route>,
}

impl Providers {
    /// Builds the providers the settings name, one breaker per provider.
    pub fn from_settings(s: &EngagementSettings, breaker: BreakerConfig) -> anyhow::Result<Self> {
        let mut built: BTreeMap<String, Route> = BTreeMap::new();
        let mut routes = BTreeMap::new();
        for (channel, name) in [
            (Channel::Email, &s.email_provider),
            (Channel::Sms, &s.sms_provider),
            (Channel::Phone, &s.phone_provider),
        ] {
            if let Some(route) = built.get(name.as_str()) {
                routes.insert(channel, route.clone());
                continue;
            }
            let provider: Arc<dyn Provider> = match name.as_str() {
                "smtp" => Arc::new(smtp::SmtpProvider::new(s).context("smtp provider")?),
                "webhook" => {
                    Arc::new(webhook::WebhookProvider::new(s).context("webhook provider")?)
                }
                _ => Arc::new(log::LogProvider),
            };
            let route = Route {
                breaker: CircuitBreaker::new(format!("provider:{}", provider.name()), breaker),
                provider,
            };
            built.insert(name.clone(), route.clone());
            routes.insert(channel, route);
        }
        Ok(Self { routes })
    }

    /// The route of `channel`.
    pub fn route(&self, channel: Channel) -> Option<&Route> {
        self.routes.get(&channel)
    }
}
