//! The outbox relay: publishes committed outbox rows and deletes them once
//! the broker acknowledged them. Several relays may run at once (rows are
//! claimed with `FOR UPDATE SKIP LOCKED`); a relay killed at any point loses
//! nothing, it can only cause a row to be published twice, which consumers
//! dedupe on the event id.
//!
//! Ordering: one relay publishes in id order, but two relays running at once
//! work on different batches concurrently, so records with the same key may
//! then be published out of order.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::future::join_all;
use sqlx::PgPool;
use suite_config::OutboxSettings;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use crate::error::BusError;
use crate::headers;
use crate::metric_names::OUTBOX_BACKLOG;
use crate::producer::{OutgoingRecord, Producer};

/// Upper bound of the retry delay after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the backlog gauge is refreshed at most.
const BACKLOG_PROBE_EVERY: Duration = Duration::from_secs(1);
/// The backlog gauge counts at most this many rows (keeps the probe cheap).
const BACKLOG_PROBE_LIMIT: i64 = 100_000;

/// Publishes outbox rows to Kafka.
pub struct Relay {
    pool: PgPool,
    producer: Producer,
    batch_size: i64,
    poll_interval: Duration,
    last_probe: Mutex<Option<Instant>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    topic: String,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    headers: serde_json::Value,
}

impl Relay {
    /// A relay over `pool`'s outbox table publishing through `producer`.
    pub fn new(pool: PgPool, producer: Producer, settings: &OutboxSettings) -> Self {
        Self {
            pool,
            producer,
            batch_size: settings.batch_size.max(1),
            poll_interval: Duration::from_millis(settings.poll_interval_ms.max(1)),
            last_probe: Mutex::new(None),
        }
    }

    /// Relays until `shutdown` is cancelled; a batch in progress is finished
    /// first. Full batches are followed at once by the next one; an empty
    /// outbox is polled every `poll_interval_ms`; failures back off
    /// exponentially (up to 5 s) and are retried.
    pub async fn run(&self, shutdown: CancellationToken) -> Result<(), BusError> {
        let mut backoff = self.poll_interval;
        while !shutdown.is_cancelled() {
            let pause = match self.run_once().await {
                Ok(n) if n as i64 >= self.batch_size => {
                    backoff = self.poll_interval;
                    continue;
                }
                Ok(_) => {
                    backoff = self.poll_interval;
                    self.poll_interval
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "outbox relay batch failed");
                    let pause = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    pause
                }
            };
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = tokio::time::sleep(pause) => {}
            }
        }
        Ok(())
    }

    /// Claims one batch, publishes it, waits for every acknowledgement and
    /// deletes the delivered rows, all in one transaction. Returns the number
    /// of rows published. Rows whose delivery failed stay for a later batch,
    /// and the call then returns [`BusError::RelayIncomplete`].
    pub async fn run_once(&self) -> Result<usize, BusError> {
        let span = tracing::debug_span!("outbox.relay", rows = tracing::field::Empty);
        let result = self.batch().instrument(span).await;
        self.probe_backlog().await;
        result
    }

    async fn batch(&self) -> Result<usize, BusError> {
        let mut tx = self.pool.begin().await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, topic, key, payload, headers FROM outbox \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .fetch_all(&mut *tx)
        .await?;
        tracing::Span::current().record("rows", rows.len());
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(0);
        }
        let total = rows.len();
        let sends = rows.into_iter().map(|row| async move {
            let headers = headers::from_json(&row.headers)?;
            self.producer
                .send(OutgoingRecord {
                    topic: row.topic,
                    key: row.key,
                    payload: row.payload,
                    headers,
                })
                .await
                .map(|_| row.id)
        });
        let mut delivered = Vec::with_capacity(total);
        let mut first_error = None;
        for result in join_all(sends).await {
            match result {
                Ok(id) => delivered.push(id),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        if !delivered.is_empty() {
            sqlx::query("DELETE FROM outbox WHERE id = ANY($1)")
                .bind(&delivered)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        match first_error {
            None => Ok(total),
            Some(first) => Err(BusError::RelayIncomplete {
                failed: total - delivered.len(),
                total,
                first: first.to_string(),
            }),
        }
    }

    /// Refreshes the `outbox_backlog` gauge, at most once a second.
    async fn probe_backlog(&self) {
        {
            let Ok(mut last) = self.last_probe.lock() else {
                return;
            };
            if last.is_some_and(|t| t.elapsed() < BACKLOG_PROBE_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let count: Result<i64, _> =
            sqlx::query_scalar("SELECT count(*) FROM (SELECT 1 FROM outbox LIMIT $1) AS waiting")
                .bind(BACKLOG_PROBE_LIMIT)
                .fetch_one(&self.pool)
                .await;
        match count {
            Ok(n) => metrics::gauge!(OUTBOX_BACKLOG).set(n as f64),
            Err(e) => tracing::debug!(error = %e, "outbox backlog probe failed"),
        }
    }
}
