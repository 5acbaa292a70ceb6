//! The `smtp` provider: one SMTP delivery per message with lettre. The send
//! id (one per send reservation) becomes the `Message-ID`, so a receiving
//! system can drop duplicates.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use suite_config::EngagementSettings;

use super::{BoxFuture, OutgoingMessage, Provider, Receipt};
use crate::outreach::ProviderFailure;

/// Delivers email through an SMTP server.
#[derive(Clone)]
pub struct SmtpProvider {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpProvider").finish_non_exhaustive()
    }
}

impl SmtpProvider {
    /// A provider for `engagement.smtp_*`.
    pub fn new(s: &EngagementSettings) -> anyhow::Result<Self> {
        type Smtp = AsyncSmtpTransport<Tokio1Executor>;
        let builder = match s.smtp_tls.as_str() {
            "none" => Smtp::builder_dangerous(&s.smtp_host),
            "tls" => Smtp::relay(&s.smtp_host)?,
            _ => Smtp::starttls_relay(&s.smtp_host)?,
        };
        let mut builder = builder
            .port(s.smtp_port)
            .timeout(Some(Duration::from_millis(s.smtp_timeout_ms)));
        if !s.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                s.smtp_username.clone(),
                s.smtp_password.expose_secret().to_owned(),
            ));
        }
        let from: Mailbox = s
            .smtp_from
            .parse()
            .map_err(|e| anyhow::anyhow!("SUITE__ENGAGEMENT__SMTP_FROM: {e}"))?;
        Ok(Self {
            transport: builder.build(),
            from,
        })
    }

    fn message(&self, m: &OutgoingMessage) -> Result<Message, ProviderFailure> {
        let to: Mailbox = m.to.parse().map_err(|_| ProviderFailure::InvalidAddress)?;
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(m.subject.clone().unwrap_or_default())
            .message_id(Some(format!("<{}@engagement.suite>", m.send_id)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|_| ProviderFailure::InvalidAddress)
    }
}

fn failure(e: &lettre::transport::smtp::Error) -> ProviderFailure {
    if let Some(code) = e.status() {
        let code: u16 = code.to_string().parse().unwrap_or(554);
        return ProviderFailure::Smtp { code };
    }
    if e.is_timeout() {
        ProviderFailure::Timeout
    } else {
        ProviderFailure::Connect
    }
}

impl Provider for SmtpProvider {
    fn name(&self) -> &'static str {
        "smtp"
    }

    fn send<'a>(
        &'a self,
        message: &'a OutgoingMessage,
    ) -> BoxFuture<'a, Result<Receipt, ProviderFailure>> {
        Box::pin(async move {
            let email = self.message(message)?;
            let response = self.transport.send(email).await.map_err(|e| failure(&e))?;
            let id = response
                .message()
                .next()
                .map(|line| line.chars().take(200).collect());
            Ok(Receipt {
                provider_message_id: id,
            })
        })
    }
}
