//! [`ScoringModel`]: a workspace's versioned, explainable scoring model.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use suite_domain::Factor;

use super::normalise;
use super::seniority::Seniority;

/// Largest weight of any single factor, source or event, in model points.
pub const MAX_WEIGHT: i32 = 1_000;
/// Longest decay half-life: one year.
pub const MAX_HALF_LIFE_HOURS: i32 = 8_760;
/// Largest company size in the profile (and accepted on a lead).
pub const MAX_COMPANY_SIZE: i64 = 10_000_000;
/// Most target industries.
pub const MAX_INDUSTRIES: usize = 100;
/// Most target countries.
pub const MAX_COUNTRIES: usize = 250;
/// Most weighted sources.
pub const MAX_SOURCES: usize = 200;
/// Most weighted events.
pub const MAX_EVENTS: usize = 500;
/// Most competitor domains.
pub const MAX_COMPETITORS: usize = 1_000;
/// Longest industry, source or event name.
pub const MAX_NAME_LEN: usize = 100;

/// A workspace's scoring model. Read and replaced whole through the API
/// and validated with [`ScoringModel::validate`]; every score records the
/// `version` it was computed with.
///
/// Weights are model points, not percentages: a factor's share of the
/// 0–100 score is its weight over the sum of all factor maxima (see
/// [`ScoringModel::effective_max_points`]). A fit factor whose profile
/// entry is empty (no target industries, …) and an intent factor with
/// nothing weighted carry no weight at all, rather than scoring every
/// lead as a miss.
///
/// Names are matched case-insensitively: source and event keys and
/// industries are written in lower case, countries as upper-case ISO
/// 3166-1 alpha-2 codes, competitor domains in lower case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoringModel {
    /// Assigned by the store on every replace (1, 2, …); 0 for the
    /// built-in default. A client may send it back unchanged; it is
    /// overwritten, never trusted.
    #[serde(default)]
    pub version: i32,
    /// Maximum points of each fit factor.
    #[serde(deserialize_with = "suite_http::extract::object")]
    pub fit_weights: FitWeights,
    /// Who the workspace sells to.
    #[serde(deserialize_with = "suite_http::extract::object")]
    pub ideal_customer_profile: IdealCustomerProfile,
    /// Points per lead source (`"webinar": 10`); the highest is the
    /// source factor's maximum; unknown sources earn 0.
    pub source_weights: BTreeMap<String, i32>,
    /// Points per behavioural event name (`"pricing page viewed": 8`),
    /// before decay; unknown events earn 0.
    pub event_weights: BTreeMap<String, i32>,
    /// Most points all events together can earn (the events factor's maximum).
    #[schema(minimum = 0, maximum = 1000)]
    pub event_points_cap: i32,
    /// An event's points halve every this many hours after it happened.
    #[schema(minimum = 1, maximum = 8760)]
    pub decay_half_life_hours: i32,
    /// Category thresholds on the 0–100 score.
    #[serde(deserialize_with = "suite_http::extract::object")]
    pub thresholds: Thresholds,
    /// Rules that disqualify a lead whatever its score.
    #[serde(deserialize_with = "suite_http::extract::object")]
    pub disqualification: DisqualificationRules,
}

/// Maximum points of each fit factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FitWeights {
    /// Company size inside the profile's range (half within a factor of two).
    #[schema(minimum = 0, maximum = 1000)]
    pub company_size: i32,
    /// Title seniority among the targets (half for an adjacent level).
    #[schema(minimum = 0, maximum = 1000)]
    pub seniority: i32,
    /// Industry among the targets.
    #[schema(minimum = 0, maximum = 1000)]
    pub industry: i32,
    /// Country among the targets.
    #[schema(minimum = 0, maximum = 1000)]
    pub country: i32,
    /// Business email domain (a quarter for a free provider, none for a
    /// disposable one).
    #[schema(minimum = 0, maximum = 1000)]
    pub email_type: i32,
    /// A valid phone number.
    #[schema(minimum = 0, maximum = 1000)]
    pub phone: i32,
}

/// The ideal customer profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdealCustomerProfile {
    /// Employee range; `null` for no preference.
    #[serde(default, deserialize_with = "suite_http::extract::optional_object")]
    pub company_size: Option<SizeRange>,
    /// Target industries, lower case.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub industries: Vec<String>,
    /// Target countries, ISO 3166-1 alpha-2, upper case.
    #[serde(default)]
    #[schema(max_items = 250, inline, value_type = Vec<CountryCode>)]
    pub countries: Vec<String>,
    /// Target seniorities.
    #[serde(default)]
    pub seniorities: Vec<Seniority>,
}

/// An upper-case ISO 3166-1 alpha-2 code (schema only).
#[derive(utoipa::ToSchema)]
#[schema(pattern = "^[A-Z]{2}(?![\\s\\S])")]
#[allow(dead_code)] // describes `countries` items for the document
struct CountryCode(String);

/// A lower-case host name of at least two labels (schema only).
#[derive(utoipa::ToSchema)]
#[schema(
    pattern = "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+(?![\\s\\S])"
)]
#[allow(dead_code)] // describes `competitor_domains` items for the document
struct DomainName(String);

/// An inclusive employee range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SizeRange {
    /// Fewest employees.
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub min: i64,
    /// Most employees (not below `min`).
    #[schema(minimum = 0, maximum = 10_000_000)]
    pub max: i64,
}

/// Lowest score of each category; below `nurture` is cold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Hot at or above.
    #[schema(minimum = 0, maximum = 100)]
    pub hot: i32,
    /// Warm at or above (below `hot`).
    #[schema(minimum = 0, maximum = 100)]
    pub warm: i32,
    /// Nurture at or above (below `warm`).
    #[schema(minimum = 0, maximum = 100)]
    pub nurture: i32,
}

/// Hard disqualification rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisqualificationRules {
    /// Disqualify disposable email domains.
    pub disposable_email: bool,
    /// Disqualify these domains and their subdomains.
    #[serde(default)]
    #[schema(max_items = 1000, inline, value_type = Vec<DomainName>)]
    pub competitor_domains: Vec<String>,
    /// Disqualify leads that opted out of marketing.
    pub opt_out: bool,
}

impl ScoringModel {
    /// The same model under `version` (set by the store).
    pub fn with_version(mut self, version: i32) -> Self {
        self.version = version;
        self
    }

    /// Each factor's maximum in model points, as scoring uses it: weights
    /// clamped to 0..=[`MAX_WEIGHT`], and 0 for a factor with nothing to
    /// match against.
    pub fn factor_maxima(&self) -> [(Factor, u32); 8] {
        let w = |v: i32| clamp_weight(v);
        let icp = &self.ideal_customer_profile;
        let only_if = |configured: bool, v: i32| if configured { w(v) } else { 0 };
        let f = &self.fit_weights;
        [
            (
                Factor::CompanySize,
                only_if(icp.company_size.is_some(), f.company_size),
            ),
            (
                Factor::Seniority,
                only_if(!icp.seniorities.is_empty(), f.seniority),
            ),
            (
                Factor::Industry,
                only_if(!icp.industries.is_empty(), f.industry),
            ),
            (
                Factor::Country,
                only_if(!icp.countries.is_empty(), f.country),
            ),
            (Factor::EmailType, w(f.email_type)),
            (Factor::Phone, w(f.phone)),
            (
                Factor::Source,
                self.source_weights
                    .values()
                    .map(|v| w(*v))
                    .max()
                    .unwrap_or(0),
            ),
            (
                Factor::Events,
                if self.event_weights.is_empty() {
                    0
                } else {
                    w(self.event_points_cap)
                },
            ),
        ]
    }

    /// Each factor's maximum on the 0–100 scale: the maxima above scaled
    /// to sum to 100 by the largest-remainder method (ties to the earlier
    /// factor). All zero when no factor has weight.
    pub fn effective_max_points(&self) -> [(Factor, u8); 8] {
        let maxima = self.factor_maxima();
        let scaled = normalise::apportion_maxima(&maxima.map(|(_, m)| u64::from(m)));
        let mut out = [(Factor::CompanySize, 0u8); 8];
        for (slot, ((factor, _), points)) in out.iter_mut().zip(maxima.iter().zip(scaled)) {
            *slot = (*factor, u8::try_from(points).unwrap_or(100));
        }
        out
    }
}

/// A weight clamped to 0..=[`MAX_WEIGHT`] (scoring never trusts the model
/// to have been validated).
pub(crate) fn clamp_weight(v: i32) -> u32 {
    u32::try_from(v.clamp(0, MAX_WEIGHT)).unwrap_or(0)
}

impl Default for ScoringModel {
    /// A B2B starting point: fit 65, source 15 and events 20 model points
    /// (so the weights read directly as points out of 100), a two-week
    /// half-life, hot ≥ 75, warm ≥ 50, nurture ≥ 25.
    fn default() -> Self {
        let map =
            |pairs: &[(&str, i32)]| pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
        let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect();
        Self {
            version: 0,
            fit_weights: FitWeights {
                company_size: 15,
                seniority: 20,
                industry: 10,
                country: 5,
                email_type: 10,
                phone: 5,
            },
            ideal_customer_profile: IdealCustomerProfile {
                company_size: Some(SizeRange {
                    min: 50,
                    max: 5_000,
                }),
                industries: list(&[
                    "software",
                    "information technology",
                    "financial services",
                    "marketing and advertising",
                ]),
                countries: list(&["US", "CA", "GB", "IE", "DE", "FR", "NL", "SE", "AU"]),
                seniorities: vec![Seniority::CLevel, Seniority::Vp, Seniority::Director],
            },
            source_weights: map(&[
                ("demo_request", 15),
                ("referral", 15),
                ("partner", 12),
                ("event", 10),
                ("webinar", 10),
                ("organic", 8),
                ("content", 8),
                ("paid_search", 6),
                ("email", 5),
                ("social", 4),
                ("paid_social", 4),
                ("purchased_list", 1),
            ]),
            event_weights: map(&[
                ("demo requested", 20),
                ("trial started", 15),
                ("pricing page viewed", 8),
                ("contact sales clicked", 8),
                ("webinar attended", 6),
                ("form submitted", 5),
                ("content downloaded", 4),
                ("email clicked", 3),
                ("page viewed", 1),
                ("email opened", 1),
            ]),
            event_points_cap: 20,
            decay_half_life_hours: 336,
            thresholds: Thresholds {
                hot: 75,
                warm: 50,
                nurture: 25,
            },
            disqualification: DisqualificationRules {
                disposable_email: true,
                competitor_domains: Vec::new(),
                opt_out: true,
            },
        }
    }
}
