//! The outbox relay: publishes committed outbox rows and deletes them once
//! the broker acknowledged them. Several relays may run at once (rows are
//! claimed with `FOR UPDATE SKIP LOCKED`); a relay killed at any point loses
//! nothing, it can only cause a row to be published twice, which consumers
//! dedupe on the event id.
//!
//! Ordering: one relay publishes in id order, but two relays running at once
//! work on different batches concurrently, so records with the same key may
//! then be published out of order.
//!
//! Claiming stays cheap under a backlog: the outbox is a queue, and the rows
//! relayed (deleted) moments ago stay in the id index as dead entries until
//! vacuum, so a claim that always starts at the lowest id walks all of them
//! (45 ms a claim after 200,000 rows in two minutes). While a relay's claims
//! come back full, it starts the next one after the highest id it claimed.
//! Rows below that point — a transaction that took its id early and
//! committed late, rows another relay failed to deliver — are found by a
//! claim from the start, made whenever the previous claim was not full and
//! at least once a second.

use std::sync::atomic::{AtomicI64, Ordering};
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
/// How often a relay claims from the lowest id at the least, while its
/// claims come back full.
const FROM_START_EVERY: Duration = Duration::from_secs(1);

/// Publishes outbox rows to Kafka.
pub struct Relay {
    pool: PgPool,
    producer: Producer,
    batch_size: i64,
    poll_interval: Duration,
    last_probe: Mutex<Option<Instant>>,
    /// Where the next claim starts (0: from the lowest id).
    floor: AtomicI64,
    /// When the last claim from the lowest id was made.
    last_from_start: Mutex<Option<Instant>>,
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
            floor: AtomicI64::new(0),
            last_from_start: Mutex::new(None),
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

    /// Where this claim starts: after the previous full claim, or from the
    /// lowest id (0) when the previous claim was not full or the last claim
    /// from the start is a second old.
    fn claim_floor(&self) -> i64 {
        let floor = self.floor.load(Ordering::Relaxed);
        let Ok(mut last) = self.last_from_start.lock() else {
            return 0;
        };
        if floor == 0 || last.is_none_or(|t| t.elapsed() >= FROM_START_EVERY) {
            *last = Some(Instant::now());
            return 0;
        }
        floor
    }

    async fn batch(&self) -> Result<usize, BusError> {
        let floor = self.claim_floor();
        let mut tx = self.pool.begin().await?;
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, topic, key, payload, headers FROM outbox WHERE id >= $2 \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .bind(self.batch_size)
        .bind(floor)
        .fetch_all(&mut *tx)
        .await?;
        let next = match rows.last() {
            Some(last) if rows.len() as i64 >= self.batch_size => last.id + 1,
            _ => 0,
        };
        self.floor.store(next, Ordering::Relaxed);
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
