//! Dead letters kept in Postgres for operators: listing and replay to the
//! original topic.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::error::BusError;
use crate::headers::{self, HeaderList};
use crate::producer::{Delivery, OutgoingRecord, Producer};

/// One dead-lettered record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// Row id (used to replay).
    pub id: i64,
    /// Consumer group that gave up on the record.
    pub consumer: String,
    /// Original topic.
    pub topic: String,
    /// Original partition.
    pub partition: i32,
    /// Original offset.
    pub offset: i64,
    /// Original key.
    pub key: Option<Vec<u8>>,
    /// Original body.
    pub payload: Option<Vec<u8>>,
    /// Original headers.
    pub headers: HeaderList,
    /// Error class (`transient_exhausted`, or the handler's permanent class).
    pub error_class: String,
    /// Error message.
    pub error_message: String,
    /// When it was dead-lettered.
    pub created_at: DateTime<Utc>,
    /// When it was replayed, if it was.
    pub replayed_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    consumer: String,
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Option<Vec<u8>>,
    headers: serde_json::Value,
    error_class: String,
    error_message: String,
    created_at: DateTime<Utc>,
    replayed_at: Option<DateTime<Utc>>,
}

impl TryFrom<Row> for DeadLetter {
    type Error = BusError;

    fn try_from(r: Row) -> Result<Self, BusError> {
        Ok(Self {
            headers: headers::from_json(&r.headers)?,
            id: r.id,
            consumer: r.consumer,
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            key: r.key,
            payload: r.payload,
            error_class: r.error_class,
            error_message: r.error_message,
            created_at: r.created_at,
            replayed_at: r.replayed_at,
        })
    }
}

/// Work a service gave up on that did not come from a Kafka record (a
/// scheduled step, say), kept with the records' dead letters for operators.
/// `source` names where it came from in place of a topic and `position` is
/// its place there (it takes the offset's column); it is not replayable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Abandoned<'a> {
    /// Who gave up (in place of a consumer group).
    pub consumer: &'a str,
    /// Where the work came from (in place of a topic).
    pub source: &'a str,
    /// Its unique position in `source` (a sequence number).
    pub position: i64,
    /// A key operators can search by.
    pub key: Option<&'a [u8]>,
    /// What was abandoned, as JSON.
    pub payload: &'a serde_json::Value,
    /// Error class.
    pub error_class: &'a str,
    /// Error message.
    pub error_message: &'a str,
}

/// The header marking a dead letter that is not a Kafka record ([`keep`]):
/// [`replay`] refuses it.
pub const ABANDONED_HEADER: &str = "suite_abandoned_work";

/// Keeps `work` in the dead letters, inside the caller's open transaction;
/// keeping the same (consumer, source, position) twice keeps it once.
pub async fn keep(conn: &mut sqlx::PgConnection, work: &Abandoned<'_>) -> Result<(), BusError> {
    let marker: HeaderList = vec![(ABANDONED_HEADER.to_owned(), b"1".to_vec())];
    sqlx::query(
        r#"INSERT INTO dead_letters (consumer, topic, "partition", "offset", key, payload, headers, error_class, error_message)
           VALUES ($1, $2, 0, $3, $4, $5, $8::jsonb, $6, $7)
           ON CONFLICT (consumer, topic, "partition", "offset") DO NOTHING"#,
    )
    .bind(work.consumer)
    .bind(work.source)
    .bind(work.position)
    .bind(work.key)
    .bind(serde_json::to_vec(work.payload).map_err(crate::CloudEventError::from)?)
    .bind(work.error_class)
    .bind(work.error_message)
    .bind(headers::to_json(&marker).to_string())
    .execute(conn)
    .await?;
    Ok(())
}

const COLUMNS: &str = r#"id, consumer, topic, "partition", "offset", key, payload, headers,
    error_class, error_message, created_at, replayed_at"#;

/// The newest `limit` dead letters, newest first.
pub async fn list(pool: &PgPool, limit: i64) -> Result<Vec<DeadLetter>, BusError> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM dead_letters ORDER BY id DESC LIMIT $1"
    ))
    .bind(limit.max(0))
    .fetch_all(pool)
    .await?;
    rows.into_iter().map(DeadLetter::try_from).collect()
}

/// One dead letter by id.
pub async fn get(pool: &PgPool, id: i64) -> Result<DeadLetter, BusError> {
    let row: Option<Row> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM dead_letters WHERE id = $1"))
            .bind(id)
            .fetch_optional(pool)
            .await?;
    row.ok_or(BusError::DeadLetterNotFound(id))?.try_into()
}

/// Republishes dead letter `id` (original key, body and headers) to its
/// original topic and marks it replayed. A dead letter is replayed at most
/// once ([`BusError::AlreadyReplayed`]), and work that was not a Kafka
/// record ([`keep`]) not at all ([`BusError::NotReplayable`]); the row stays locked while it is
/// published, so concurrent replays of the same id cannot both publish.
pub async fn replay(pool: &PgPool, producer: &Producer, id: i64) -> Result<Delivery, BusError> {
    let mut tx = pool.begin().await?;
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM dead_letters WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let letter = DeadLetter::try_from(row.ok_or(BusError::DeadLetterNotFound(id))?)?;
    if letter.replayed_at.is_some() {
        return Err(BusError::AlreadyReplayed(id));
    }
    if headers::find(&letter.headers, ABANDONED_HEADER).is_some() {
        return Err(BusError::NotReplayable(id));
    }
    let delivery = producer
        .send(OutgoingRecord {
            topic: letter.topic,
            key: letter.key,
            payload: letter.payload.unwrap_or_default(),
            headers: letter.headers,
        })
        .await?;
    sqlx::query("UPDATE dead_letters SET replayed_at = now() WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(
        dead_letter = id,
        partition = delivery.partition,
        offset = delivery.offset,
        "dead letter replayed"
    );
    Ok(delivery)
}
