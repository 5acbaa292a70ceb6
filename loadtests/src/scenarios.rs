//! Request builders per scenario, with seeded, realistic, unique payloads.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::Args;

const TITLES: &[&str] = &[
    "VP of Engineering",
    "CTO",
    "Marketing Manager",
    "Director of IT",
    "Software Engineer",
    "Head of Sales",
    "Student",
    "Founder & CEO",
];
const INDUSTRIES: &[&str] = &[
    "software",
    "financial services",
    "retail",
    "healthcare",
    "marketing and advertising",
    "education",
];
const COUNTRIES: &[&str] = &["US", "GB", "DE", "FR", "IN", "BR", "CA", "AU"];
const SOURCES: &[&str] = &[
    "demo_request",
    "webinar",
    "organic",
    "paid_search",
    "referral",
    "content",
    "social",
];
const DOMAINS: &[&str] = &[
    "initech.com",
    "globex.io",
    "umbrella.co",
    "gmail.com",
    "hooli.xyz",
    "acme.org",
];

/// A scenario: builds request `i`.
pub struct Scenario {
    kind: Kind,
    url: String,
    key: String,
    seed: u64,
    ids: Vec<String>,
}

/// What a lead scenario sends.
enum Kind {
    Post,
    Batch,
    Get,
}

/// Builds the scenario named in `args` (creating fixtures it needs).
pub async fn build(args: &Args) -> anyhow::Result<Scenario> {
    let kind = match args.scenario.as_str() {
        "lead-post" => Kind::Post,
        "lead-batch" => Kind::Batch,
        "lead-get" => Kind::Get,
        other => anyhow::bail!("unknown scenario {other}"),
    };
    let mut scenario = Scenario {
        kind,
        url: args.url.clone(),
        key: args.key.clone(),
        seed: args.seed,
        ids: Vec::new(),
    };
    if matches!(scenario.kind, Kind::Get) {
        // Fixture: 1,000 leads to read back.
        let client = reqwest::Client::new();
        let leads: Vec<serde_json::Value> =
            (0..1000).map(|i| lead(args.seed ^ 0xfeed, i)).collect();
        let resp: serde_json::Value = client
            .post(format!("{}/v1/leads/batch", args.url))
            .bearer_auth(&args.key)
            .json(&serde_json::json!({"leads": leads}))
            .send()
            .await?
            .json()
            .await?;
        scenario.ids = resp["results"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| x["lead"]["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        anyhow::ensure!(
            !scenario.ids.is_empty(),
            "fixture leads were not created: {resp}"
        );
    }
    Ok(scenario)
}

/// A unique, plausible lead for request `i` (deterministic per seed).
pub fn lead(seed: u64, i: u64) -> serde_json::Value {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(i));
    let pick = |rng: &mut StdRng, xs: &[&'static str]| xs[rng.random_range(0..xs.len())];
    let domain = pick(&mut rng, DOMAINS);
    serde_json::json!({
        "email": format!("lead{seed}x{i}@{domain}"),
        "name": format!("Lead {i}"),
        "title": pick(&mut rng, TITLES),
        "company_size": rng.random_range(1..20_000),
        "industry": pick(&mut rng, INDUSTRIES),
        "country": pick(&mut rng, COUNTRIES),
        "source": pick(&mut rng, SOURCES),
        "phone": format!("+1415{:07}", rng.random_range(0..10_000_000)),
        "consent": {"email": true, "sms": rng.random_bool(0.5)},
    })
}

impl Scenario {
    /// Request number `i`.
    pub fn request(&self, client: &reqwest::Client, i: u64) -> reqwest::RequestBuilder {
        match self.kind {
            Kind::Post => client
                .post(format!("{}/v1/leads", self.url))
                .bearer_auth(&self.key)
                .json(&lead(self.seed, i)),
            Kind::Batch => {
                let leads: Vec<_> = (0..100).map(|j| lead(self.seed, i * 100 + j)).collect();
                client
                    .post(format!("{}/v1/leads/batch", self.url))
                    .bearer_auth(&self.key)
                    .json(&serde_json::json!({"leads": leads}))
            }
            Kind::Get => {
                let id = &self.ids[(i as usize) % self.ids.len()];
                client
                    .get(format!("{}/v1/leads/{id}", self.url))
                    .bearer_auth(&self.key)
            }
        }
    }
}
