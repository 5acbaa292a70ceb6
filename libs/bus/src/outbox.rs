//! The transactional outbox: events are written in the caller's Postgres
//! transaction, together with the state change they announce, and published
//! later by the [`Relay`](crate::relay::Relay). Rows hold the record exactly
//! as it will be published (binary-mode headers and JSON body).

use sqlx::PgConnection;

use crate::cloudevents::CloudEvent;
use crate::error::BusError;
use crate::headers;
use crate::trace;

/// One event to enqueue with [`enqueue_many`].
#[derive(Debug, Clone, Copy)]
pub struct OutboxMessage<'a> {
    /// Full (prefixed) topic name.
    pub topic: &'a str,
    /// Partitioning key.
    pub key: Option<&'a [u8]>,
    /// The event.
    pub event: &'a CloudEvent,
}

/// Encodes an event as it will be published; the current span's trace
/// context is captured when the event carries no `traceparent`.
fn encode(event: &CloudEvent) -> Result<(Vec<u8>, String), BusError> {
    let mut encoded = event.to_binary()?;
    trace::inject_current(&mut encoded.headers);
    Ok((
        encoded.payload,
        headers::to_json(&encoded.headers).to_string(),
    ))
}

/// Writes one event to the outbox inside the caller's open transaction.
/// Nothing is published unless that transaction commits.
pub async fn enqueue(
    conn: &mut PgConnection,
    topic: &str,
    key: Option<&[u8]>,
    event: &CloudEvent,
) -> Result<(), BusError> {
    let (payload, headers) = encode(event)?;
    sqlx::query("INSERT INTO outbox (topic, key, payload, headers) VALUES ($1, $2, $3, $4::jsonb)")
        .bind(topic)
        .bind(key)
        .bind(payload)
        .bind(headers)
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes several events with one multi-row `INSERT` inside the caller's
/// open transaction; relayed in the order given.
pub async fn enqueue_many(
    conn: &mut PgConnection,
    messages: &[OutboxMessage<'_>],
) -> Result<(), BusError> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut topics = Vec::with_capacity(messages.len());
    let mut keys: Vec<Option<Vec<u8>>> = Vec::with_capacity(messages.len());
    let mut payloads = Vec::with_capacity(messages.len());
    let mut header_sets = Vec::with_capacity(messages.len());
    for m in messages {
        let (payload, headers) = encode(m.event)?;
        topics.push(m.topic.to_owned());
        keys.push(m.key.map(<[u8]>::to_vec));
        payloads.push(payload);
        header_sets.push(headers);
    }
    // WITH ORDINALITY keeps the ids (and so the relay order) in input order.
    sqlx::query(
        "INSERT INTO outbox (topic, key, payload, headers) \
         SELECT t, k, p, h::jsonb \
         FROM UNNEST($1::text[], $2::bytea[], $3::bytea[], $4::text[]) WITH ORDINALITY AS u(t, k, p, h, n) \
         ORDER BY n",
    )
    .bind(topics)
    .bind(keys)
    .bind(payloads)
    .bind(header_sets)
    .execute(conn)
    .await?;
    Ok(())
}
