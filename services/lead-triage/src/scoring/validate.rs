//! [`ScoringModel::validate`]: every rule, each error at its JSON Pointer.

use std::collections::{BTreeMap, HashSet};

use super::model::{
    ScoringModel, MAX_COMPANY_SIZE, MAX_COMPETITORS, MAX_COUNTRIES, MAX_EVENTS,
    MAX_HALF_LIFE_HOURS, MAX_INDUSTRIES, MAX_NAME_LEN, MAX_SOURCES, MAX_WEIGHT,
};

/// One validation problem: a JSON Pointer (RFC 6901) into the model, such
/// as `/thresholds/hot`, and a message for people.
pub type ModelIssue = (String, String);

#[derive(Default)]
struct Issues(Vec<ModelIssue>);

impl Issues {
    fn push(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.0.push((pointer.into(), message.into()));
    }

    fn weight(&mut self, pointer: impl Into<String>, value: i32) {
        if !(0..=MAX_WEIGHT).contains(&value) {
            self.push(pointer, format!("must be between 0 and {MAX_WEIGHT}"));
        }
    }

    fn list_len(&mut self, pointer: &str, len: usize, max: usize) {
        if len > max {
            self.push(pointer, format!("must have at most {max} entries"));
        }
    }
}

impl ScoringModel {
    /// Checks every rule and reports all violations, in model order:
    /// weights and the events cap within 0..=1000; at least one factor
    /// with weight; thresholds within 0–100 and strictly descending
    /// (hot > warm > nurture); half-life 1..=8760 hours; the company-size
    /// range ordered and within 0..=10,000,000; lists and maps bounded in
    /// size, without duplicates, their names trimmed, lower-case and at
    /// most 100 characters; countries as upper-case alpha-2 codes;
    /// competitor domains well-formed lower-case host names.
    pub fn validate(&self) -> Result<(), Vec<ModelIssue>> {
        let mut issues = Issues::default();
        let f = &self.fit_weights;
        for (name, value) in [
            ("company_size", f.company_size),
            ("seniority", f.seniority),
            ("industry", f.industry),
            ("country", f.country),
            ("email_type", f.email_type),
            ("phone", f.phone),
        ] {
            issues.weight(format!("/fit_weights/{name}"), value);
        }
        self.validate_profile(&mut issues);
        names_and_weights(
            &mut issues,
            "/source_weights",
            &self.source_weights,
            MAX_SOURCES,
        );
        names_and_weights(
            &mut issues,
            "/event_weights",
            &self.event_weights,
            MAX_EVENTS,
        );
        issues.weight("/event_points_cap", self.event_points_cap);
        if self.factor_maxima().iter().all(|(_, max)| *max == 0) {
            issues.push(
                "/fit_weights",
                "the model gives no points: at least one factor needs a positive weight",
            );
        }
        if !(1..=MAX_HALF_LIFE_HOURS).contains(&self.decay_half_life_hours) {
            issues.push(
                "/decay_half_life_hours",
                format!("must be between 1 and {MAX_HALF_LIFE_HOURS} hours"),
            );
        }
        let t = &self.thresholds;
        for (name, value) in [("hot", t.hot), ("warm", t.warm), ("nurture", t.nurture)] {
            if !(0..=100).contains(&value) {
                issues.push(format!("/thresholds/{name}"), "must be between 0 and 100");
            }
        }
        if t.warm >= t.hot {
            issues.push(
                "/thresholds/warm",
                format!("must be lower than hot ({})", t.hot),
            );
        }
        if t.nurture >= t.warm {
            issues.push(
                "/thresholds/nurture",
                format!("must be lower than warm ({})", t.warm),
            );
        }
        let domains = &self.disqualification.competitor_domains;
        issues.list_len(
            "/disqualification/competitor_domains",
            domains.len(),
            MAX_COMPETITORS,
        );
        each_unique(
            &mut issues,
            "/disqualification/competitor_domains",
            domains,
            |d| {
                is_domain(d)
                    .then_some(())
                    .ok_or("must be a lower-case domain name such as rival.com")
            },
        );
        if issues.0.is_empty() {
            Ok(())
        } else {
            Err(issues.0)
        }
    }

    fn validate_profile(&self, issues: &mut Issues) {
        let icp = &self.ideal_customer_profile;
        if let Some(range) = icp.company_size {
            if !(0..=MAX_COMPANY_SIZE).contains(&range.min) {
                issues.push(
                    "/ideal_customer_profile/company_size/min",
                    format!("must be between 0 and {MAX_COMPANY_SIZE}"),
                );
            }
            if !(0..=MAX_COMPANY_SIZE).contains(&range.max) {
                issues.push(
                    "/ideal_customer_profile/company_size/max",
                    format!("must be between 0 and {MAX_COMPANY_SIZE}"),
                );
            } else if range.max < range.min {
                issues.push(
                    "/ideal_customer_profile/company_size/max",
                    "must not be below min",
                );
            }
        }
        let industries = "/ideal_customer_profile/industries";
        issues.list_len(industries, icp.industries.len(), MAX_INDUSTRIES);
        each_unique(issues, industries, &icp.industries, check_name);
        let countries = "/ideal_customer_profile/countries";
        issues.list_len(countries, icp.countries.len(), MAX_COUNTRIES);
        each_unique(issues, countries, &icp.countries, |c| {
            (c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
                .then_some(())
                .ok_or("must be an upper-case ISO 3166-1 alpha-2 code such as DE")
        });
        let mut seen = HashSet::new();
        for (i, s) in icp.seniorities.iter().enumerate() {
            if !seen.insert(s) {
                issues.push(
                    format!("/ideal_customer_profile/seniorities/{i}"),
                    "duplicate entry",
                );
            }
        }
    }
}

fn names_and_weights(issues: &mut Issues, at: &str, map: &BTreeMap<String, i32>, max: usize) {
    issues.list_len(at, map.len(), max);
    for (name, weight) in map {
        let pointer = format!("{at}/{}", escape(name));
        match check_name(name) {
            Err(message) => issues.push(pointer, message),
            Ok(()) => issues.weight(pointer, *weight),
        }
    }
}

/// Each entry passes `check`, and none repeats an earlier one.
fn each_unique(
    issues: &mut Issues,
    at: &str,
    items: &[String],
    check: impl Fn(&str) -> Result<(), &'static str>,
) {
    let mut seen = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        if let Err(message) = check(item) {
            issues.push(format!("{at}/{i}"), message);
        } else if !seen.insert(item.as_str()) {
            issues.push(format!("{at}/{i}"), "duplicate entry");
        }
    }
}

/// A source, event or industry name: 1–100 characters, trimmed, lower
/// case, no control characters.
fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.chars().count() > MAX_NAME_LEN {
        Err("must be 1 to 100 characters")
    } else if name.trim() != name || name.chars().any(char::is_control) {
        Err("must not start or end with whitespace or contain control characters")
    } else if name.to_lowercase() != name {
        Err("must be lower case (names are matched case-insensitively)")
    } else {
        Ok(())
    }
}

/// A lower-case host name of at least two LDH labels.
fn is_domain(d: &str) -> bool {
    let labels: Vec<&str> = d.split('.').collect();
    d.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// RFC 6901 escaping of one reference token.
fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
