//! `hello`: a bare axum hello-world server, the HTTP ceiling of this
//! machine. The benchmark scripts measure it in the same run as a scenario
//! so the report can state the suite's throughput as a ratio of it.
//!
//! ```text
//! hello --port 8090
//! ```

use clap::Parser;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Bare axum hello-world server (reference ceiling)")]
struct Args {
    /// Port on 127.0.0.1.
    #[arg(long, default_value_t = 8090)]
    port: u16,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, world!" }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port)).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
