//! A handle on the process's shared, multiplexed cluster connection with a
//! deadline on every command.

use std::time::Duration;

use redis::aio::ConnectionLike;
use redis::{Cmd, Pipeline, RedisFuture, Value};

/// A pooled cluster connection; every command (and pipeline) sent through it
/// fails with a timeout error after `command_timeout_ms`. Use it with
/// [`redis::AsyncCommands`], [`redis::cmd`], [`redis::pipe`] or [`redis::Script`].
///
/// A connection on which a command timed out is not returned to the pool
/// (its node may be gone, or a late reply would delay the next user).
pub struct Connection {
    inner: Option<redis::cluster_async::ClusterConnection>,
    timeout: Duration,
    timed_out: bool,
    on_failure: std::sync::Arc<dyn Fn() + Send + Sync>,
}

impl Connection {
    pub(super) fn new(
        inner: redis::cluster_async::ClusterConnection,
        timeout: Duration,
        on_failure: std::sync::Arc<dyn Fn() + Send + Sync>,
    ) -> Self {
        Self {
            inner: Some(inner),
            timeout,
            timed_out: false,
            on_failure,
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // A command that timed out may have left the shared connection in a
        // bad state: have the next caller take a fresh one from the pool.
        if self.timed_out {
            (self.on_failure)();
        }
    }
}

fn timeout_error() -> redis::RedisError {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "redis command timed out").into()
}

fn gone_error() -> redis::RedisError {
    std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "redis connection released",
    )
    .into()
}

/// Runs `command` within `timeout`; a timeout or a broken connection marks
/// the shared connection for replacement.
async fn bounded<T>(
    timeout: Duration,
    failed: &mut bool,
    command: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    match tokio::time::timeout(timeout, command).await {
        Ok(Err(e)) if e.is_io_error() || e.is_connection_dropped() => {
            *failed = true;
            Err(e)
        }
        Ok(result) => result,
        Err(_) => {
            *failed = true;
            Err(timeout_error())
        }
    }
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let Some(inner) = self.inner.as_mut() else {
                return Err(gone_error());
            };
            bounded(
                self.timeout,
                &mut self.timed_out,
                inner.req_packed_command(cmd),
            )
            .await
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let Some(inner) = self.inner.as_mut() else {
                return Err(gone_error());
            };
            bounded(
                self.timeout,
                &mut self.timed_out,
                inner.req_packed_commands(cmd, offset, count),
            )
            .await
        })
    }

    fn get_db(&self) -> i64 {
        self.inner.as_ref().map_or(0, |c| c.get_db())
    }
}
