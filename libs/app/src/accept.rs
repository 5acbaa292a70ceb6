//! The HTTP/1.1 accept loop: at most `http.max_connections` open connections,
//! idle keep-alive connections closed after `http.idle_timeout_secs`, and a
//! graceful drain of the open ones at shutdown.
//!
//! Each open connection holds buffers and a task (about 100 KB of resident
//! memory measured under load, docs/benchmarks.md), so an unbounded number of
//! client connections is unbounded memory. At the cap, a new connection
//! first takes the place of connections that have had no request in flight
//! for a second or more (clients' pools keep many such; nginx does the
//! same): they are closed.
//! Only when every open connection is busy does the new one get a single
//! answer, 503 with `Retry-After` (problem detail `overload`, as for requests
//! past `http.max_concurrency`), and is closed: overload fails fast instead of
//! leaving clients waiting. While [`REFUSALS`] refusals are already under
//! way, new connections wait in the kernel's listen backlog instead.

mod tracked;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::Router;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use suite_http::ApiError;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use tracked::{Registry, Tracked, RECLAIM_AFTER_IDLE};

/// Connections past the cap answered at once with a 503 (each lives for one
/// short exchange); past this many as well, new connections wait.
const REFUSALS: usize = 64;

/// How long a refused connection has to send its request's headers.
const REFUSAL_HEADER_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a new connection at the cap waits for closed idle connections
/// to give their places back before it is refused.
const RECLAIM_WAIT: Duration = Duration::from_millis(50);

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
    let max = limits.max_connections.max(1);
    let open = Arc::new(Semaphore::new(max));
    let refusals = Arc::new(Semaphore::new(REFUSALS));
    let registry = Registry::default();
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
        let permit = match open.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) if registry.close_idle(RECLAIM_AFTER_IDLE) > 0 => {
                tokio::time::timeout(RECLAIM_WAIT, open.clone().acquire_owned())
                    .await
                    .ok()
                    .and_then(Result::ok)
            }
            Err(_) => None,
        };
        let permit = match permit {
            Some(permit) => permit,
            None => {
                if let Ok(refusal) = refusals.clone().try_acquire_owned() {
                    let connection =
                        refusing.serve_connection(TokioIo::new(stream), service_fn(refuse));
                    tokio::spawn(async move {
                        let _ = connection.await;
                        drop(refusal);
                    });
                    continue;
                }
                // Busy everywhere and refusing already: this one waits for a
                // place, and the ones behind it wait in the listen backlog.
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
        let served = serve(&serving, stream, app.clone(), registry.track());
        tokio::spawn(async move {
            served.await;
            drop(permit);
        });
    }
    drop(listener);
    async move {
        registry.close_all();
        // Every place back means every connection has closed.
        let _ = open
            .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
            .await;
    }
}

/// One served connection: requests go to `app` while `connection` counts
/// them; closed gracefully (after the request in flight) when asked to.
fn serve(
    builder: &http1::Builder,
    stream: TcpStream,
    app: Router,
    connection: Tracked,
) -> impl std::future::Future<Output = ()> + Send + 'static {
    let (state, registry) = (connection.state(), connection.registry());
    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let busy = state.busy(&registry);
        let app = app.clone();
        async move {
            let response = tower::ServiceExt::oneshot(app, request).await;
            drop(busy);
            response
        }
    });
    let served = builder.serve_connection(TokioIo::new(stream), service);
    async move {
        let mut served = std::pin::pin!(served);
        let result = tokio::select! {
            result = served.as_mut() => result,
            () = connection.close_requested() => {
                served.as_mut().graceful_shutdown();
                served.await
            }
        };
        if let Err(err) = result {
            tracing::debug!(error = %err, "connection closed with an error");
        }
    }
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
