//! `loadgen`: sends requests at a fixed arrival rate (an open model: the
//! schedule does not wait for responses) and records each latency from the
//! request's *scheduled* start, so a stalled server is charged for the
//! requests it delayed (coordinated-omission correction).
//!
//! ```text
//! loadgen --scenario lead-post --rate 2000 --duration 60 --out results.json
//! ```

mod scenarios;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio::sync::{Mutex, Semaphore};

/// Command line.
#[derive(Parser, Debug, Clone)]
#[command(about = "Fixed-arrival-rate HTTP load generator")]
pub struct Args {
    /// Scenario: lead-post, lead-batch, lead-get.
    #[arg(long)]
    pub scenario: String,
    /// Base URL of the service.
    #[arg(long, env = "TRIAGE_URL", default_value = "http://127.0.0.1:8081")]
    pub url: String,
    /// API key.
    #[arg(long, env = "DEMO_API_KEY")]
    pub key: String,
    /// Requests per second.
    #[arg(long)]
    pub rate: u64,
    /// Seconds to run.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Requests in flight at most; a request that cannot start on time counts as an error.
    #[arg(long, default_value_t = 4096)]
    pub max_in_flight: usize,
    /// Seed of the payload generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write the JSON result here.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Serialize)]
struct Report {
    scenario: String,
    target_rate: u64,
    achieved_rate: f64,
    duration_s: f64,
    requests: u64,
    errors: u64,
    status: std::collections::BTreeMap<u16, u64>,
    latency_ms: Percentiles,
}

#[derive(Serialize)]
struct Percentiles {
    p50: f64,
    p95: f64,
    p99: f64,
    max: f64,
}

#[derive(Default)]
struct Tally {
    status: std::collections::BTreeMap<u16, u64>,
    errors: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let scenario = scenarios::build(&args).await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.max_in_flight)
        .timeout(Duration::from_secs(30))
        .build()?;
    let hist = Arc::new(Mutex::new(Histogram::<u64>::new_with_bounds(
        1, 60_000_000, 3,
    )?));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let slots = Arc::new(Semaphore::new(args.max_in_flight));
    let total = args.rate * args.duration;
    let interval = Duration::from_secs_f64(1.0 / args.rate as f64);
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let scheduled = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled.into()).await;
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            tally.lock().await.errors += 1;
            continue;
        };
        let request = scenario.request(&client, i);
        let (hist, tally) = (hist.clone(), tally.clone());
        tasks.spawn(async move {
            let outcome = request.send().await;
            let micros = u64::try_from(scheduled.elapsed().as_micros()).unwrap_or(u64::MAX);
            drop(permit);
            let mut t = tally.lock().await;
            match outcome {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    *t.status.entry(status).or_default() += 1;
                    if status >= 400 {
                        t.errors += 1;
                    }
                }
                Err(_) => t.errors += 1,
            }
            drop(t);
            let _ = hist.lock().await.record(micros.max(1));
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed().as_secs_f64();
    let hist = hist.lock().await;
    let tally = tally.lock().await;
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let report = Report {
        scenario: args.scenario.clone(),
        target_rate: args.rate,
        achieved_rate: hist.len() as f64 / elapsed,
        duration_s: elapsed,
        requests: hist.len(),
        errors: tally.errors,
        status: tally.status.clone(),
        latency_ms: Percentiles {
            p50: ms(0.50),
            p95: ms(0.95),
            p99: ms(0.99),
            max: hist.max() as f64 / 1000.0,
        },
    };
    let json = serde_json::to_string_pretty(&report)?;
    println!("{json}");
    if let Some(out) = &args.out {
        std::fs::write(out, &json).with_context(|| format!("write {}", out.display()))?;
    }
    Ok(())
}
