//! The HTTP/1.1 accept loop: at most `http.max_connections` open connections,
//! idle keep-alive connections closed after `http.idle_timeout_secs`, and a
//! graceful drain of the open ones at shutdown.
//!
//! Each open connection holds buffers and a task (about 100 KB of resident
//! memory measured under load, docs/benchmarks.md), so an unbounded number of
//! client connections is unbounded memory. A connection past the cap gets one
//! answer, 503 with `Retry-After` (problem `overload`, as for requests past
//! `http.max_concurrency`), and is closed: overload fails fast instead of
//! leaving clients waiting. While [`REFUSALS`] such answers are already under
//! way, new connections wait in the kernel's listen backlog instead.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::Router;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use suite_http::ApiError;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

/// Connections past the cap answered at once with a 503 (each lives for one
/// short exchange); past this many as well, new connections wait.
const REFUSALS: usize = 64;

/// How long a refused connection has to send its request's headers.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// Connection limits of one listener.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// How long an HTTP/1 connection may sit without a request (keep-alive)
    /// or take to send a request's headers before it is closed.
    pub idle_timeout: Duration,
}

/// Serves `app` on `listener` until `stop` is cancelled, then stops
/// accepting and returns a future that completes when every open connection
/// has finished its in-flight requests and closed.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: CancellationToken,
) -> impl std::future::Future<Output = ()> {
    let mut serving = http1::Builder::new();
    serving
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    let mut refusing = http1::Builder::new();
    refusing
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout.min(REFUSAL_HEADER_TIMEOUT))
        .keep_alive(false);
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let graceful = GracefulShutdown::new();
    loop {
        let stream = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(err) => {
                    accept_failed(err).await;
                    continue;
                }
            },
        };
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(error = %err, "TCP_NODELAY not set");
        }
        let io = TokioIo::new(stream);
        let permit = match open.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                    let connection = refusing.serve_connection(io, service_fn(refuse));
                    tokio::spawn(async move {
                        let _ = connection.await;
                        drop(refusal);
                    });
                    continue;
                }
                // Both full: this one waits for a place, and the ones behind
                // it wait in the listen backlog.
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    permit = open.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        let connection =
            graceful.watch(serving.serve_connection(io, TowerToHyperService::new(app.clone())));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection closed with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown()
}

/// The one answer of a connection past the cap: 503 with `Retry-After`, and
/// the connection closed after it.
async fn refuse(
    _request: hyper::Request<hyper::body::Incoming>,
) -> Result<axum::response::Response, Infallible> {
    Ok(ApiError::Unavailable {
        reason: "overload",
        retry_after: Duration::from_secs(1),
    }
    .into_response())
}

/// Errors of `accept`: a connection that failed before it was accepted is
/// skipped; anything else (out of file descriptors, say) is logged and the
/// loop pauses for a second instead of spinning.
async fn accept_failed(err: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %err, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
