//! Request kinds, the weighted mix of a scenario, seeded realistic payloads,
//! and the setup that creates what the requests need (fixture leads, a
//! campaign) through the services' own APIs.

use std::collections::BTreeMap;

use anyhow::Context as _;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

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
/// Provider callbacks and user actions, with a plausible funnel: most
/// callbacks are deliveries and opens, few are conversions. Bounces and
/// unsubscribes are left out: they withdraw consent and would change what
/// the engagement service does for the rest of the run.
const INTERACTIONS: &[(&str, u32)] = &[
    ("delivered", 45),
    ("opened", 30),
    ("clicked", 15),
    ("replied", 6),
    ("converted", 4),
];

/// One kind of request of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `POST /v1/leads` (lead-triage).
    LeadPost,
    /// `POST /v1/leads/batch` (lead-triage).
    LeadBatch,
    /// `GET /v1/leads/{id}` (lead-triage).
    LeadGet,
    /// `POST /v1/interactions` (engagement): a provider callback.
    Interaction,
    /// `GET /v1/leads/{id}/context` (engagement).
    Context,
    /// `GET /v1/campaigns/{id}/performance` (campaign-optimization).
    Performance,
    /// `GET /` of the hello-world reference server.
    Hello,
}

impl Kind {
    /// Every kind.
    pub const ALL: &'static [Kind] = &[
        Kind::LeadPost,
        Kind::LeadBatch,
        Kind::LeadGet,
        Kind::Interaction,
        Kind::Context,
        Kind::Performance,
        Kind::Hello,
    ];

    /// The name used on the command line and in reports.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::LeadPost => "lead-post",
            Kind::LeadBatch => "lead-batch",
            Kind::LeadGet => "lead-get",
            Kind::Interaction => "interaction",
            Kind::Context => "context",
            Kind::Performance => "performance",
            Kind::Hello => "hello",
        }
    }

    /// The service the kind exercises.
    pub const fn service(self) -> &'static str {
        match self {
            Kind::LeadPost | Kind::LeadBatch | Kind::LeadGet => "lead-triage",
            Kind::Interaction | Kind::Context => "engagement",
            Kind::Performance => "campaign-optimization",
            Kind::Hello => "hello",
        }
    }

    /// The kind named `s`.
    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.iter().copied().find(|k| k.name() == s)
    }
}

/// The seeds' mix (60% triage, 30% engagement, 10% optimization), split
/// over the request kinds of each service.
pub const SEEDS_MIX: &str =
    "lead-post=35,lead-batch=5,lead-get=20,interaction=15,context=15,performance=10";

/// Weights per kind, in percent or any other unit (they are normalised).
#[derive(Debug, Clone, PartialEq)]
pub struct Mix(pub Vec<(Kind, u32)>);

impl Mix {
    /// Parses `kind=weight,kind=weight,…`; a bare kind name means weight 1.
    pub fn parse(s: &str) -> anyhow::Result<Mix> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
            let kind = Kind::parse(name.trim()).with_context(|| {
                let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
                format!(
                    "unknown request kind {name:?} (kinds: {})",
                    names.join(", ")
                )
            })?;
            let weight: u32 = weight
                .trim()
                .parse()
                .with_context(|| format!("bad weight in {part:?}"))?;
            if weight > 0 {
                out.push((kind, weight));
            }
        }
        anyhow::ensure!(!out.is_empty(), "the mix {s:?} has no kind with a weight");
        Ok(Mix(out))
    }

    /// Whether the mix sends `kind`.
    pub fn has(&self, kind: Kind) -> bool {
        self.0.iter().any(|(k, _)| *k == kind)
    }

    /// Weights in percent, for the report.
    pub fn percentages(&self) -> BTreeMap<String, f64> {
        let total: u32 = self.0.iter().map(|(_, w)| w).sum();
        self.0
            .iter()
            .map(|(k, w)| {
                (
                    k.name().to_owned(),
                    100.0 * f64::from(*w) / f64::from(total),
                )
            })
            .collect()
    }

    /// A deterministic sequence of kinds following the weights.
    pub fn picker(&self, seed: u64) -> anyhow::Result<Picker> {
        let weights: Vec<u32> = self.0.iter().map(|(_, w)| *w).collect();
        Ok(Picker {
            kinds: self.0.iter().map(|(k, _)| *k).collect(),
            index: rand::distr::weighted::WeightedIndex::new(weights)?,
            rng: StdRng::seed_from_u64(seed ^ 0x006d_6978),
        })
    }
}

/// Draws request kinds according to a [`Mix`].
pub struct Picker {
    kinds: Vec<Kind>,
    index: rand::distr::weighted::WeightedIndex<u32>,
    rng: StdRng,
}

impl Picker {
    /// The next kind.
    pub fn next_kind(&mut self) -> Kind {
        self.kinds[self.rng.sample(&self.index)]
    }
}

/// What the setup created (reported in the JSON).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fixtures {
    /// Leads created for the read and callback kinds.
    pub lead_ids: usize,
    /// The campaign used by the callback and performance kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// Its variants.
    pub variant_ids: Vec<String>,
}

/// Base URLs of the services.
#[derive(Debug, Clone)]
pub struct Urls {
    /// lead-triage.
    pub triage: String,
    /// engagement.
    pub engagement: String,
    /// campaign-optimization.
    pub optimization: String,
    /// The hello-world reference.
    pub hello: String,
}

/// A ready scenario: builds request `i` of any kind.
pub struct Scenario {
    urls: Urls,
    key: String,
    seed: u64,
    batch_size: u64,
    leads: Vec<String>,
    campaign: Option<String>,
    variants: Vec<String>,
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

/// The campaign the setup creates unless `--campaign-body` names another
/// body: two variants, an email-then-SMS ladder, a budget large enough not
/// to pause during a run. Fields follow `migrations/0003_campaigns.sql`.
pub fn default_campaign(seed: u64) -> serde_json::Value {
    serde_json::json!({
        "name": format!("loadtest {seed}"),
        "target_categories": ["hot", "warm", "nurture"],
        "objective": "click",
        "ladder": [
            {"channel": "email", "delay_secs": 0},
            {"channel": "sms", "delay_secs": 86_400}
        ],
        "daily_budget_micros": 1_000_000_000_000_i64,
        "channel_costs": {"email": 1_000, "sms": 20_000, "phone": 150_000},
        "min_share": 0.05,
        "warmup_sends": 100,
        "variants": [
            {"name": "A", "content": {
                "email": {"subject": "{{ first_name | default(\"there\") }}, a quick question",
                          "body": "Hi {{ first_name | default(\"there\") }}, teams like yours cut lead response time in half. Worth a call?"},
                "sms": {"body": "Hi {{ name }}, can we help with lead response times? Reply YES."}
            }},
            {"name": "B", "content": {
                "email": {"subject": "See how others respond to every lead in minutes",
                          "body": "Hello {{ name }}, here is a two-minute demo of instant lead follow-up."},
                "sms": {"body": "{{ name }}: a two-minute demo of instant lead follow-up? Reply YES."}
            }}
        ]
    })
}

/// Sends `req`, requiring a 2xx; the error says which endpoint failed and
/// what it answered (a missing endpoint must fail a run, not skip it).
async fn must(what: &str, req: reqwest::RequestBuilder) -> anyhow::Result<serde_json::Value> {
    let resp = req
        .send()
        .await
        .with_context(|| format!("{what}: no answer (is the service running?)"))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        let hint = if matches!(status.as_u16(), 404 | 405) {
            " (is the endpoint missing from the running service?)"
        } else {
            ""
        };
        anyhow::bail!("{what}: HTTP {status}{hint}: {}", truncate(&body, 600));
    }
    Ok(serde_json::from_str(&body).unwrap_or(serde_json::Value::Null))
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The first string found at any of `paths` (JSON pointers).
fn string_at(v: &serde_json::Value, paths: &[&str]) -> Option<String> {
    paths
        .iter()
        .find_map(|p| v.pointer(p).and_then(|x| x.as_str()).map(str::to_owned))
}

/// Builds the scenario: creates the fixtures the mix needs and sends one
/// request of every kind, failing if any does not answer 2xx.
pub async fn build(args: &Args, mix: &Mix, urls: Urls) -> anyhow::Result<(Scenario, Fixtures)> {
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(60))
        .build()?;
    let mut s = Scenario {
        urls,
        key: args.key.clone(),
        seed: args.seed,
        batch_size: args.batch_size,
        leads: Vec::new(),
        campaign: None,
        variants: Vec::new(),
    };
    if mix.has(Kind::LeadGet) || mix.has(Kind::Interaction) || mix.has(Kind::Context) {
        let leads: Vec<serde_json::Value> = (0..args.fixture_leads)
            .map(|i| lead(args.seed ^ 0xfeed, i))
            .collect();
        let resp = must(
            "setup: POST /v1/leads/batch (fixture leads) on lead-triage",
            client
                .post(format!("{}/v1/leads/batch", s.urls.triage))
                .bearer_auth(&s.key)
                .json(&serde_json::json!({"leads": leads})),
        )
        .await?;
        s.leads = resp["results"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|x| string_at(x, &["/lead/id", "/id"]))
                    .collect()
            })
            .unwrap_or_default();
        anyhow::ensure!(
            !s.leads.is_empty(),
            "setup: fixture leads were not created: {}",
            truncate(&resp.to_string(), 600)
        );
    }
    if mix.has(Kind::Interaction) || mix.has(Kind::Performance) {
        if let Some(id) = &args.campaign_id {
            s.campaign = Some(id.clone());
        } else {
            let body = match &args.campaign_body {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("read {}", path.display()))?;
                    serde_json::from_str(&text)
                        .with_context(|| format!("{} is not JSON", path.display()))?
                }
                None => default_campaign(args.seed),
            };
            let resp = must(
                "setup: POST /v1/campaigns on campaign-optimization",
                client
                    .post(format!("{}/v1/campaigns", s.urls.optimization))
                    .bearer_auth(&s.key)
                    .json(&body),
            )
            .await?;
            s.campaign = string_at(&resp, &["/id", "/campaign/id", "/campaign_id"]);
            anyhow::ensure!(
                s.campaign.is_some(),
                "setup: POST /v1/campaigns answered without a campaign id: {}",
                truncate(&resp.to_string(), 600)
            );
            s.variants = resp
                .pointer("/variants")
                .or_else(|| resp.pointer("/campaign/variants"))
                .and_then(|v| v.as_array())
                .map(|vs| {
                    vs.iter()
                        .filter_map(|v| string_at(v, &["/id", "/variant_id"]))
                        .collect()
                })
                .unwrap_or_default();
        }
    }
    // One request of every kind the mix sends: fail now, clearly, rather
    // than report a run made of 404s.
    for (kind, _) in &mix.0 {
        let what = format!(
            "setup: probe {} ({} on {})",
            kind.name(),
            s.describe(*kind),
            kind.service()
        );
        // Reads may go to a replica that has not replayed the fixtures yet,
        // and engagement learns of new leads from lead-triage's events (a
        // callback for a lead it has not seen yet is a 404; an engagement
        // that just restarted first rejoins its consumer group): give them up
        // to a minute before calling the endpoint broken.
        let tries = if matches!(
            kind,
            Kind::LeadGet | Kind::Context | Kind::Performance | Kind::Interaction
        ) {
            120
        } else {
            1
        };
        for attempt in 1..=tries {
            match must(&what, s.request(&client, *kind, u64::MAX - 1)).await {
                Ok(_) => break,
                Err(e) if attempt == tries => return Err(e),
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
            }
        }
    }
    let fixtures = Fixtures {
        lead_ids: s.leads.len(),
        campaign_id: s.campaign.clone(),
        variant_ids: s.variants.clone(),
    };
    Ok((s, fixtures))
}

impl Scenario {
    fn describe(&self, kind: Kind) -> &'static str {
        match kind {
            Kind::LeadPost => "POST /v1/leads",
            Kind::LeadBatch => "POST /v1/leads/batch",
            Kind::LeadGet => "GET /v1/leads/{id}",
            Kind::Interaction => "POST /v1/interactions",
            Kind::Context => "GET /v1/leads/{id}/context",
            Kind::Performance => "GET /v1/campaigns/{id}/performance",
            Kind::Hello => "GET /",
        }
    }

    fn lead_id(&self, i: u64) -> &str {
        if self.leads.is_empty() {
            ""
        } else {
            &self.leads[(i % self.leads.len() as u64) as usize]
        }
    }

    /// Request number `i` of `kind`.
    pub fn request(&self, client: &reqwest::Client, kind: Kind, i: u64) -> reqwest::RequestBuilder {
        let u = &self.urls;
        match kind {
            Kind::LeadPost => client
                .post(format!("{}/v1/leads", u.triage))
                .bearer_auth(&self.key)
                .json(&lead(self.seed, i)),
            Kind::LeadBatch => {
                let n = self.batch_size;
                let leads: Vec<_> = (0..n)
                    .map(|j| lead(self.seed ^ 0xba7c, i.wrapping_mul(n).wrapping_add(j)))
                    .collect();
                client
                    .post(format!("{}/v1/leads/batch", u.triage))
                    .bearer_auth(&self.key)
                    .json(&serde_json::json!({"leads": leads}))
            }
            Kind::LeadGet => client
                .get(format!("{}/v1/leads/{}", u.triage, self.lead_id(i)))
                .bearer_auth(&self.key),
            Kind::Interaction => client
                .post(format!("{}/v1/interactions", u.engagement))
                .bearer_auth(&self.key)
                .json(&self.interaction(i)),
            Kind::Context => client
                .get(format!(
                    "{}/v1/leads/{}/context",
                    u.engagement,
                    self.lead_id(i)
                ))
                .bearer_auth(&self.key),
            Kind::Performance => client
                .get(format!(
                    "{}/v1/campaigns/{}/performance",
                    u.optimization,
                    self.campaign.as_deref().unwrap_or_default()
                ))
                .bearer_auth(&self.key),
            Kind::Hello => client.get(format!("{}/", u.hello)),
        }
    }

    /// The emails of the leads that request `i` of `kind` got accepted,
    /// given its 2xx answer's body: the one lead of a `lead-post`, the items
    /// of a `lead-batch` its answer lists as `created` or `merged` (none of
    /// other kinds). The chaos scenario checks each of them is stored.
    pub fn accepted_emails(&self, kind: Kind, i: u64, body: &serde_json::Value) -> Vec<String> {
        let email = |v: serde_json::Value| v["email"].as_str().map(str::to_owned);
        match kind {
            Kind::LeadPost => email(lead(self.seed, i)).into_iter().collect(),
            Kind::LeadBatch => {
                let n = self.batch_size;
                body["results"]
                    .as_array()
                    .map(|items| {
                        items
                            .iter()
                            .filter(|x| matches!(x["status"].as_str(), Some("created" | "merged")))
                            .filter_map(|x| x["index"].as_u64())
                            .filter_map(|j| {
                                email(lead(self.seed ^ 0xba7c, i.wrapping_mul(n).wrapping_add(j)))
                            })
                            .collect()
                    })
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// A provider callback for a fixture lead (the body of
    /// `POST /v1/interactions`: lead, kind, provider event id, channel,
    /// campaign, time), unique by provider event id.
    fn interaction(&self, i: u64) -> serde_json::Value {
        let mut rng = StdRng::seed_from_u64(self.seed.wrapping_mul(7_919).wrapping_add(i));
        let total: u32 = INTERACTIONS.iter().map(|(_, w)| w).sum();
        let mut roll = rng.random_range(0..total);
        let mut kind = INTERACTIONS[0].0;
        for (k, w) in INTERACTIONS {
            if roll < *w {
                kind = k;
                break;
            }
            roll -= w;
        }
        let mut body = serde_json::json!({
            "lead_id": self.lead_id(i),
            "channel": "email",
            "kind": kind,
            "occurred_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "provider_event_id": format!("loadtest-{}-{i}", self.seed),
        });
        if let Some(c) = &self.campaign {
            body["campaign_id"] = c.clone().into();
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_mix_is_sixty_thirty_ten() {
        let mix = Mix::parse(SEEDS_MIX).expect("valid");
        let pct = mix.percentages();
        let by_service = |svc: &str| -> f64 {
            mix.0
                .iter()
                .filter(|(k, _)| k.service() == svc)
                .map(|(k, _)| pct[k.name()])
                .sum()
        };
        assert!((by_service("lead-triage") - 60.0).abs() < 1e-9);
        assert!((by_service("engagement") - 30.0).abs() < 1e-9);
        assert!((by_service("campaign-optimization") - 10.0).abs() < 1e-9);
    }

    #[test]
    fn mix_rejects_unknown_kinds_and_empty_mixes() {
        assert!(Mix::parse("lead-post=1,nope=2").is_err());
        assert!(Mix::parse("lead-post=0").is_err());
        assert_eq!(
            Mix::parse("context").expect("valid"),
            Mix(vec![(Kind::Context, 1)])
        );
    }

    #[test]
    fn picker_follows_the_weights_and_is_deterministic() {
        let mix = Mix::parse("lead-post=60,context=30,performance=10").expect("valid");
        let draw = |seed| {
            let mut p = mix.picker(seed).expect("picker");
            (0..10_000).map(|_| p.next_kind()).collect::<Vec<_>>()
        };
        let a = draw(1);
        assert_eq!(a, draw(1));
        let posts = a.iter().filter(|k| **k == Kind::LeadPost).count();
        assert!((5_700..6_300).contains(&posts), "{posts}");
    }

    #[test]
    fn accepted_emails_follow_the_answers() {
        let s = Scenario {
            urls: Urls {
                triage: String::new(),
                engagement: String::new(),
                optimization: String::new(),
                hello: String::new(),
            },
            key: String::new(),
            seed: 7,
            batch_size: 3,
            leads: Vec::new(),
            campaign: None,
            variants: Vec::new(),
        };
        let post = s.accepted_emails(Kind::LeadPost, 5, &serde_json::Value::Null);
        assert_eq!(
            post,
            vec![lead(7, 5)["email"].as_str().expect("email").to_owned()]
        );
        let body = serde_json::json!({"results": [
            {"index": 0, "status": "created"}, {"index": 1, "status": "rejected"},
            {"index": 2, "status": "merged"}]});
        let batch = s.accepted_emails(Kind::LeadBatch, 2, &body);
        assert_eq!(batch.len(), 2);
        assert_eq!(
            batch[1],
            lead(7 ^ 0xba7c, 8)["email"].as_str().expect("email")
        );
        assert!(s.accepted_emails(Kind::Context, 1, &body).is_empty());
    }

    #[test]
    fn leads_are_unique_and_deterministic() {
        assert_eq!(lead(1, 2), lead(1, 2));
        assert_ne!(lead(1, 2)["email"], lead(1, 3)["email"]);
    }
}
