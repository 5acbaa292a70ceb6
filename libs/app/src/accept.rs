//! The HTTP/1.1 accept loop: at most `http.max_connections` open connections,
//! idle keep-alive connections closed after `http.idle_timeout_secs`, and a
//! graceful drain of the open ones at shutdown.
//!
//! Each open connection holds buffers and a task (about 100 KB of resident
//! memory measured under load, docs/benchmarks.md), so an unbounded number of
//! client connections is unbounded memory. Past the cap the loop stops
//! accepting: new connections wait in the kernel's listen backlog until one
//! closes, and the requests on open connections are still served (and shed
//! with 503 past `http.max_concurrency`).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

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
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    let open = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    loop {
        let permit = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            permit = open.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
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
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
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
