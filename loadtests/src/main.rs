//! `loadgen`: sends requests at a fixed arrival rate (an open model: the
//! schedule does not wait for responses) and records each latency from the
//! request's *scheduled* start, so a stalled server is charged for the
//! requests it delayed (coordinated-omission correction).
//!
//! ```text
//! loadgen --scenario lead-post --rate 2000 --duration 60 --out results.json
//! loadgen --scenario mix --profile spike --rate 500 --duration 300 \
//!         --watch lead-triage=1234 --watch engagement=1235 --out spike.json
//! loadgen --scenario hello --closed-loop 64 --duration 5     # a ceiling
//! ```
//!
//! A scenario is a weighted mix of request kinds (`--mix`); `mix` is the
//! seeds' 60/30/10 split over the three services. The JSON result has the
//! overall and per-kind percentiles, a per-second time series (for the
//! plots) and the RSS and CPU of every watched process.

mod procs;
mod profile;
mod scenarios;
mod stats;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use serde::Serialize;
use tokio::sync::Semaphore;

use crate::profile::Profile;
use crate::scenarios::{Fixtures, Kind, Mix, Urls, SEEDS_MIX};
use crate::stats::{Outcome, Stats, Summary};

/// Command line.
#[derive(Parser, Debug, Clone)]
#[command(about = "Fixed-arrival-rate HTTP load generator")]
pub struct Args {
    /// Scenario: `mix` (the seeds' 60/30/10 mix) or one request kind:
    /// lead-post, lead-batch, lead-get, interaction, context, performance, hello.
    #[arg(long)]
    pub scenario: String,
    /// Name of the run in the report (default: the scenario), e.g. `peak`.
    #[arg(long)]
    pub name: Option<String>,
    /// Weighted request kinds, e.g. `lead-post=35,context=15` (default: the
    /// scenario's kind, or the seeds' mix for `mix`).
    #[arg(long)]
    pub mix: Option<String>,
    /// Rate profile: steady, or spike (base → `--spike-factor`× within `--ramp-secs`, then back).
    #[arg(long, default_value = "steady")]
    pub profile: String,
    /// Peak rate of a spike as a multiple of `--rate`.
    #[arg(long, default_value_t = 10.0)]
    pub spike_factor: f64,
    /// Seconds of a spike's ramp (shortened to a quarter of short runs).
    #[arg(long, default_value_t = 60.0)]
    pub ramp_secs: f64,
    /// Base URL of lead-triage.
    #[arg(long, env = "TRIAGE_URL", default_value = "http://127.0.0.1:8081")]
    pub url: String,
    /// Base URL of engagement.
    #[arg(long, env = "ENGAGEMENT_URL", default_value = "http://127.0.0.1:8082")]
    pub engagement_url: String,
    /// Base URL of campaign-optimization.
    #[arg(
        long,
        env = "OPTIMIZATION_URL",
        default_value = "http://127.0.0.1:8083"
    )]
    pub optimization_url: String,
    /// Base URL of the hello-world reference server.
    #[arg(long, env = "HELLO_URL", default_value = "http://127.0.0.1:8090")]
    pub hello_url: String,
    /// API key.
    #[arg(long, env = "DEMO_API_KEY", default_value = "", hide_env_values = true)]
    pub key: String,
    /// Requests per second (the base rate of a spike).
    #[arg(long, default_value_t = 50)]
    pub rate: u64,
    /// Seconds to run.
    #[arg(long, default_value_t = 60)]
    pub duration: u64,
    /// Seconds of unmeasured warm-up before the run: a linear ramp from 0 to
    /// the starting rate, so the measured load meets warm connections (open model only).
    #[arg(long, default_value_t = 0)]
    pub warmup: u64,
    /// Requests in flight at most; a request that cannot start on time counts as an error.
    #[arg(long, default_value_t = 4096)]
    pub max_in_flight: usize,
    /// Instead of a fixed rate, N workers sending back to back (only for
    /// reference ceilings: a closed loop hides queueing delay).
    #[arg(long)]
    pub closed_loop: Option<usize>,
    /// Seed of the payload generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Leads per `lead-batch` request.
    #[arg(long, default_value_t = 100)]
    pub batch_size: u64,
    /// Fixture leads created for lead reads, callbacks and context reads.
    #[arg(long, default_value_t = 200)]
    pub fixture_leads: u64,
    /// Use this campaign instead of creating one.
    #[arg(long)]
    pub campaign_id: Option<String>,
    /// JSON body for `POST /v1/campaigns` (default: a built-in two-variant campaign).
    #[arg(long)]
    pub campaign_body: Option<std::path::PathBuf>,
    /// Sample this process's RSS and CPU during the run: NAME=PID (repeatable).
    #[arg(long = "watch", value_parser = procs::parse_watched)]
    pub watch: Vec<procs::Watched>,
    /// Write the JSON result here.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Append the email of every lead a 2xx answer accepted (lead-post,
    /// lead-batch items created or merged, warm-up included) to this file,
    /// one a line: the chaos scenario checks each is stored.
    #[arg(long)]
    pub accepted_out: Option<std::path::PathBuf>,
}

/// The accepted-leads file of `--accepted-out`.
type AcceptedLog = Arc<Mutex<std::io::BufWriter<std::fs::File>>>;

fn log_accepted(log: &AcceptedLog, emails: &[String]) {
    use std::io::Write as _;
    let mut w = log.lock().unwrap_or_else(PoisonError::into_inner);
    for e in emails {
        if let Err(err) = writeln!(w, "{e}") {
            eprintln!("loadgen: --accepted-out: {err}");
            return;
        }
    }
}

#[derive(Serialize)]
struct Report {
    scenario: String,
    name: String,
    mode: &'static str,
    profile: Profile,
    mix: BTreeMap<String, f64>,
    batch_size: u64,
    target_rate: u64,
    peak_rate: f64,
    duration_s: f64,
    started_at: String,
    command: String,
    fixtures: Fixtures,
    #[serde(flatten)]
    summary: Summary,
    services: BTreeMap<String, procs::Usage>,
}

type Shared = Arc<Mutex<Stats>>;

/// Offsets (seconds) of a linear ramp from 0 to `rate` over `secs`: the
/// n-th request is due when `rate * t² / (2 * secs)` reaches n.
fn ramp_schedule(rate: f64, secs: u64) -> Vec<f64> {
    let secs = secs as f64;
    let total = (rate * secs / 2.0).floor() as u64;
    (0..total)
        .map(|n| (2.0 * secs * n as f64 / rate).sqrt())
        .collect()
}

/// The open model: requests at fixed times, never waiting for answers.
struct OpenLoop<'a> {
    client: &'a reqwest::Client,
    scenario: &'a Arc<scenarios::Scenario>,
    slots: &'a Arc<Semaphore>,
    accepted: Option<&'a AcceptedLog>,
}

impl OpenLoop<'_> {
    /// Sends one request at each of `offsets` after `start` (request numbers
    /// from `first`); a request that cannot start because every slot is in
    /// use is recorded as not started. Returns when every answer is in.
    async fn run(
        &self,
        offsets: Vec<f64>,
        start: Instant,
        first: u64,
        picker: &mut scenarios::Picker,
        stats: &Shared,
    ) {
        let sec = move |t: Instant| t.saturating_duration_since(start).as_secs() as usize;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, offset) in offsets.into_iter().enumerate() {
            let i = first + i as u64;
            let scheduled = start + Duration::from_secs_f64(offset);
            tokio::time::sleep_until(scheduled.into()).await;
            let kind = picker.next_kind();
            let Ok(permit) = self.slots.clone().try_acquire_owned() else {
                record(
                    stats,
                    kind,
                    sec(scheduled),
                    sec(Instant::now()),
                    0,
                    Outcome::NotStarted,
                );
                continue;
            };
            let request = self.scenario.request(self.client, kind, i);
            let stats = stats.clone();
            let accepted = self
                .accepted
                .filter(|_| matches!(kind, Kind::LeadPost | Kind::LeadBatch))
                .map(|log| (log.clone(), self.scenario.clone()));
            tasks.spawn(async move {
                let r = request.send().await;
                let micros = u64::try_from(scheduled.elapsed().as_micros()).unwrap_or(u64::MAX);
                let o = outcome(&r);
                if let (Some((log, scenario)), Ok(resp)) = (accepted, r) {
                    if resp.status().is_success() {
                        let body = if kind == Kind::LeadBatch {
                            resp.json().await.unwrap_or_default()
                        } else {
                            serde_json::Value::Null
                        };
                        log_accepted(&log, &scenario.accepted_emails(kind, i, &body));
                    }
                }
                drop(permit);
                record(&stats, kind, sec(scheduled), sec(Instant::now()), micros, o);
            });
            while tasks.try_join_next().is_some() {}
        }
        while tasks.join_next().await.is_some() {}
    }
}

fn record(stats: &Shared, kind: Kind, sched_s: usize, done_s: usize, micros: u64, o: Outcome) {
    stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .record(kind, sched_s, done_s, micros, o);
}

fn outcome(r: &Result<reqwest::Response, reqwest::Error>) -> Outcome {
    match r {
        Ok(resp) => Outcome::Status(resp.status().as_u16()),
        Err(_) => Outcome::Transport,
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // One line per cause, no backtrace: a failed setup names the endpoint and its answer.
    match run(Args::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("loadgen: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let mix = match (&args.mix, args.scenario.as_str()) {
        (Some(m), _) => Mix::parse(m)?,
        (None, "mix") => Mix::parse(SEEDS_MIX)?,
        (None, name) => Mix::parse(name)
            .with_context(|| format!("unknown scenario {name:?} (mix or a request kind)"))?,
    };
    let profile = match args.profile.as_str() {
        "steady" => Profile::Steady {
            rate: args.rate as f64,
        },
        "spike" => Profile::spike(
            args.rate as f64,
            args.spike_factor,
            args.ramp_secs,
            args.duration,
        ),
        other => anyhow::bail!("unknown profile {other:?} (steady, spike)"),
    };
    anyhow::ensure!(args.duration > 0, "--duration must be positive");
    let urls = Urls {
        triage: args.url.clone(),
        engagement: args.engagement_url.clone(),
        optimization: args.optimization_url.clone(),
        hello: args.hello_url.clone(),
    };
    let (scenario, fixtures) = scenarios::build(&args, &mix, urls).await?;
    let scenario = Arc::new(scenario);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(args.max_in_flight)
        .timeout(Duration::from_secs(30))
        .build()?;
    let stats: Shared = Arc::new(Mutex::new(Stats::new()));
    let accepted: Option<AcceptedLog> = match &args.accepted_out {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("open {}", path.display()))?;
            Some(Arc::new(Mutex::new(std::io::BufWriter::new(file))))
        }
        None => None,
    };
    if args.warmup > 0 && args.closed_loop.is_none() {
        // A ramp to the rate, not measured: the connections a steady load
        // keeps open exist when measuring starts (wrk2 calibrates likewise).
        let slots = Arc::new(Semaphore::new(args.max_in_flight));
        let open = OpenLoop {
            client: &client,
            scenario: &scenario,
            slots: &slots,
            accepted: accepted.as_ref(),
        };
        let mut picker = mix.picker(args.seed.wrapping_add(1))?;
        let discarded: Shared = Arc::new(Mutex::new(Stats::new()));
        let ramp = ramp_schedule(profile.rate_at(0.0, args.duration), args.warmup);
        open.run(ramp, Instant::now(), 1 << 50, &mut picker, &discarded)
            .await;
    }
    // milliseconds: the chaos scenario places its faults on the per-second timeline by it
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    // The chaos scenario waits for this line: setup and warm-up take a while.
    eprintln!("loadgen: measuring from {started_at}");
    let start = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    // The generator watches itself too: its CPU share is part of the picture on one machine.
    let mut watched = args.watch.clone();
    watched.push(procs::Watched {
        name: "loadgen".into(),
        pid: i32::try_from(std::process::id())?,
    });
    let sampler = tokio::spawn(procs::sample(watched, start, stop_rx));
    let sec = move |t: Instant| t.saturating_duration_since(start).as_secs() as usize;

    let mode = if let Some(workers) = args.closed_loop {
        let deadline = start + Duration::from_secs(args.duration);
        let mut tasks = tokio::task::JoinSet::new();
        for w in 0..workers {
            let (client, scenario, stats) = (client.clone(), scenario.clone(), stats.clone());
            let mut picker = mix.picker(args.seed.wrapping_add(w as u64))?;
            tasks.spawn(async move {
                let mut j = 0u64;
                while Instant::now() < deadline {
                    let kind = picker.next_kind();
                    let i = (w as u64) << 40 | j;
                    j += 1;
                    let sent = Instant::now();
                    let r = scenario.request(&client, kind, i).send().await;
                    let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                    record(
                        &stats,
                        kind,
                        sec(sent),
                        sec(Instant::now()),
                        micros,
                        outcome(&r),
                    );
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        "closed-loop"
    } else {
        let slots = Arc::new(Semaphore::new(args.max_in_flight));
        let open = OpenLoop {
            client: &client,
            scenario: &scenario,
            slots: &slots,
            accepted: accepted.as_ref(),
        };
        let mut picker = mix.picker(args.seed)?;
        open.run(
            profile.schedule(args.duration),
            start,
            0,
            &mut picker,
            &stats,
        )
        .await;
        "open"
    };
    let elapsed = start.elapsed().as_secs_f64();
    if let Some(log) = &accepted {
        use std::io::Write as _;
        log.lock()
            .unwrap_or_else(PoisonError::into_inner)
            .flush()
            .context("flush --accepted-out")?;
    }
    let _ = stop_tx.send(());
    let services = sampler.await.context("resource sampler")?;
    let summary = stats
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .summary(elapsed, |t| profile.rate_at(t, args.duration));
    let report = Report {
        scenario: args.scenario.clone(),
        name: args.name.clone().unwrap_or_else(|| args.scenario.clone()),
        mode,
        profile,
        mix: mix.percentages(),
        batch_size: args.batch_size,
        target_rate: args.rate,
        peak_rate: profile.peak_rate(),
        duration_s: elapsed,
        started_at,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        fixtures,
        summary,
        services,
    };
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(out) = &args.out {
        std::fs::write(out, &json).with_context(|| format!("write {}", out.display()))?;
        let l = report.summary.latency_ms;
        println!(
            "{} ({}, {}): {} requests, {:.0}/s, p50 {:.1} p95 {:.1} p99 {:.1} max {:.1} ms, {} errors -> {}",
            report.name,
            report.scenario,
            report.mode,
            report.summary.requests,
            report.summary.achieved_rate,
            l.p50,
            l.p95,
            l.p99,
            l.max,
            report.summary.errors,
            out.display()
        );
    } else {
        println!("{json}");
    }
    Ok(())
}
