//! Group commit of single leads: `POST /v1/leads` and `leads.inbound` records.
//!
//! Every single post and every inbound record hands its lead to one
//! coordinator, which writes the leads that arrive together for one workspace
//! in one transaction, through the same [`Writer`] call a batch uses: one set
//! of round trips, one commit and one read-your-writes position per client
//! for the whole group, instead of per lead. The inbound records of a group
//! are deduplicated with one statement (their ids in `processed_events`),
//! in the group's transaction.
//!
//! - It adds no wait of its own: a group is whatever has queued while the
//!   previous groups were being committed. With light load every group is a
//!   single post; under load groups grow (up to [`MAX_GROUP`]) and the cost
//!   per lead falls, as it does for batches (docs/benchmarks.md).
//! - At most `database.max_connections / 2` groups commit at once, so single
//!   posts never take the whole pool from reads, batches and consumers.
//! - Each post still answers only after its own transaction committed, with
//!   the same status and body as before. A post with an `Idempotency-Key` is
//!   checked and recorded inside the group's transaction; so is the id of an
//!   inbound record, which answers [`Posted::Duplicate`] when it was written
//!   before (or earlier in the same group).
//! - If a group's transaction fails, each of its posts is retried in a
//!   transaction of its own, so one post can never fail another; the post
//!   whose own transaction fails gets that error.
//! - Two posts for the same email in one group merge as if sent one after the
//!   other (the first is `created`, the second `merged`); both answer with
//!   the lead as it stands after the group.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::http::StatusCode;
use suite_http::ApiError;
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::api::leads::LeadResponse;
use crate::error::Error;
use crate::state::AppState;
use crate::store::idempotency::{self, Replay};
use crate::store::writer::{Outcome, WriteItem};

/// Most posts written in one transaction.
pub const MAX_GROUP: usize = 100;

/// Posts waiting for a group; past it callers wait to enqueue.
const QUEUE: usize = 1_024;

/// One single lead, validated.
#[derive(Debug, Clone)]
pub struct Post {
    /// The lead's workspace.
    pub workspace: Uuid,
    /// Where the lead came from.
    pub origin: Origin,
    /// The lead.
    pub item: WriteItem,
}

/// Where a single lead came from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// A `POST /v1/leads`.
    Request {
        /// The caller's client id (read-your-writes).
        client: String,
        /// `Idempotency-Key` and the SHA-256 of the body, if the caller sent a key.
        key: Option<(String, Vec<u8>)>,
    },
    /// A `leads.inbound` record.
    Event {
        /// Its dedupe id, recorded in `processed_events` under
        /// [`crate::intake::CONSUMER`].
        id: String,
    },
}

impl Post {
    fn key(&self) -> Option<&(String, Vec<u8>)> {
        match &self.origin {
            Origin::Request { key, .. } => key.as_ref(),
            Origin::Event { .. } => None,
        }
    }
}

/// What a post came to.
#[derive(Debug)]
pub enum Posted {
    /// Written now: the response to send (and to replay under its key).
    Written(StatusCode, serde_json::Value),
    /// The key was used before with the same body: the first response.
    Replayed(StatusCode, serde_json::Value),
    /// The key was used before with a different body.
    KeyMismatch,
    /// An inbound record whose id was written before: nothing written.
    Duplicate,
}

struct Job {
    post: Post,
    reply: oneshot::Sender<Result<Posted, ApiError>>,
}

/// Hands single posts to the coordinator.
#[derive(Clone)]
pub struct GroupCommit {
    jobs: mpsc::Sender<Job>,
}

/// The coordinator's end of the queue (see [`coordinate`]).
pub struct Queue(mpsc::Receiver<Job>);

impl GroupCommit {
    /// A handle and the queue a [`coordinate`] task serves.
    pub fn channel() -> (Self, Queue) {
        let (jobs, queue) = mpsc::channel(QUEUE);
        (Self { jobs }, Queue(queue))
    }

    /// Writes `post` with whatever posts arrive with it; answers once its
    /// transaction has committed.
    pub async fn submit(&self, post: Post) -> Result<Posted, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(Job { post, reply })
            .await
            .map_err(|_| unavailable())?;
        answer.await.map_err(|_| unavailable())?
    }
}

fn unavailable() -> ApiError {
    ApiError::Unavailable {
        reason: "shutting down",
        retry_after: std::time::Duration::from_secs(1),
    }
}

/// Serves `queue` until `stop` is cancelled (after HTTP has drained): takes
/// the next group once one of the `concurrent` commit slots is free, that is
/// the first post waited for, then everything already queued, up to
/// [`MAX_GROUP`].
pub async fn coordinate(state: AppState, queue: Queue, concurrent: usize, stop: CancellationToken) {
    let Queue(mut queue) = queue;
    let slots = Arc::new(Semaphore::new(concurrent.max(1)));
    loop {
        let slot = tokio::select! {
            () = stop.cancelled() => return,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
        };
        let first = tokio::select! {
            () = stop.cancelled() => return,
            job = queue.recv() => match job {
                Some(job) => job,
                None => return,
            },
        };
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let state = state.clone();
        tokio::spawn(async move {
            commit_all(&state, jobs).await;
            drop(slot);
        });
    }
}

/// One transaction per workspace in the group, concurrently.
async fn commit_all(state: &AppState, jobs: Vec<Job>) {
    let mut by_workspace: HashMap<Uuid, Vec<Job>> = HashMap::new();
    for job in jobs {
        by_workspace
            .entry(job.post.workspace)
            .or_default()
            .push(job);
    }
    futures::future::join_all(
        by_workspace
            .into_iter()
            .map(|(workspace, jobs)| commit_workspace(state, workspace, jobs)),
    )
    .await;
}

async fn commit_workspace(state: &AppState, workspace: Uuid, jobs: Vec<Job>) {
    let posts: Vec<&Post> = jobs.iter().map(|j| &j.post).collect();
    match write_group(state, workspace, &posts).await {
        Ok(results) => {
            for (job, result) in jobs.into_iter().zip(results) {
                let _ = job.reply.send(Ok(result));
            }
        }
        Err(err) if jobs.len() == 1 => {
            if let Some(job) = jobs.into_iter().next() {
                let _ = job.reply.send(Err(err));
            }
        }
        Err(err) => {
            tracing::warn!(error = ?err, posts = jobs.len(), "group commit failed; writing its posts one by one");
            for job in jobs {
                let result = write_group(state, workspace, &[&job.post]).await;
                let _ = job.reply.send(result.and_then(|mut r| {
                    r.pop()
                        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("no result")))
                }));
            }
        }
    }
}

/// Writes `posts` (one workspace) in one transaction; one result per post,
/// in order.
async fn write_group(
    state: &AppState,
    workspace: Uuid,
    posts: &[&Post],
) -> Result<Vec<Posted>, ApiError> {
    let model = state.models.current(workspace).await?;
    let mut tx = state.platform.db.primary().begin().await?;

    // Keys are locked in one order by every group, so groups cannot deadlock.
    let mut results: Vec<Option<Posted>> = posts.iter().map(|_| None).collect();
    let mut keyed: Vec<(usize, &str, &[u8])> = posts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.key().map(|(k, h)| (i, k.as_str(), h.as_slice())))
        .collect();
    keyed.sort_by(|a, b| a.1.cmp(b.1));
    for (i, key, hash) in keyed {
        results[i] = match idempotency::check(&mut tx, workspace, key, hash).await? {
            Replay::Fresh => None,
            Replay::Same(status, body) => Some(Posted::Replayed(
                StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
                body,
            )),
            Replay::Mismatch => Some(Posted::KeyMismatch),
        };
    }

    for i in first_events(&mut tx, posts).await? {
        results[i] = Some(Posted::Duplicate);
    }

    let fresh: Vec<usize> = (0..posts.len()).filter(|&i| results[i].is_none()).collect();
    let items = fresh.iter().map(|&i| posts[i].item.clone()).collect();
    let written = state
        .writer()
        .write(&mut tx, workspace, &model, items)
        .await?;
    if written.len() != fresh.len() {
        return Err(ApiError::internal(anyhow::anyhow!(
            "the writer answered {} of {} leads",
            written.len(),
            fresh.len()
        )));
    }
    let mut merged = Vec::new();
    for (&i, w) in fresh.iter().zip(written) {
        let status = match w.outcome {
            Outcome::Created => StatusCode::CREATED,
            Outcome::Merged => {
                merged.push(w.lead.id);
                StatusCode::OK
            }
        };
        let body = serde_json::to_value(LeadResponse {
            outcome: w.outcome,
            lead: w.lead,
        })
        .map_err(ApiError::internal)?;
        if let Some((key, hash)) = posts[i].key() {
            idempotency::record(&mut tx, workspace, key, hash, status.as_u16(), &body).await?;
        }
        results[i] = Some(Posted::Written(status, body));
    }
    tx.commit().await?;

    let clients: BTreeSet<&str> = posts
        .iter()
        .filter_map(|p| match &p.origin {
            Origin::Request { client, .. } => Some(client.as_str()),
            Origin::Event { .. } => None,
        })
        .collect();
    for client in clients {
        state.noted_write(client).await;
    }
    merged.sort_unstable();
    merged.dedup();
    state.invalidate(workspace, &merged).await;
    results
        .into_iter()
        .map(|r| r.ok_or_else(|| ApiError::internal(anyhow::anyhow!("a post without a result"))))
        .collect()
}

/// Records the ids of the group's inbound records in `processed_events`,
/// in one statement; returns the places of those written before (a
/// redelivery), and of every repeat of an id after its first place.
async fn first_events(conn: &mut sqlx::PgConnection, posts: &[&Post]) -> Result<Vec<usize>, Error> {
    let events: Vec<(usize, &str)> = posts
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match &p.origin {
            Origin::Event { id } => Some((i, id.as_str())),
            Origin::Request { .. } => None,
        })
        .collect();
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = events.iter().map(|(_, id)| *id).collect();
    let mut fresh = suite_bus::processed::first_times(conn, crate::intake::CONSUMER, &ids).await?;
    Ok(events
        .into_iter()
        .filter(|(_, id)| !fresh.remove(*id))
        .map(|(i, _)| i)
        .collect())
}
