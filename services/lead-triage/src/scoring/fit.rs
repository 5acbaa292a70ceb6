//! Fit: how closely the lead matches the ideal customer profile.

use suite_domain::Factor;

use super::decay::MICRO;
use super::email_domain::EmailKind;
use super::model::ScoringModel;
use super::normalise::RawFactor;
use super::seniority::Seniority;
use super::LeadSignals;

/// Share of the email-type weight a free provider earns, in percent.
pub const FREE_EMAIL_PERCENT: u64 = 25;
/// Share earned by a near miss (company size within a factor of two of
/// the range, an adjacent seniority), in percent.
pub const NEAR_MISS_PERCENT: u64 = 50;
/// Longest excerpt of a title or other free text quoted in a reason.
const MAX_QUOTE: usize = 60;

/// The six fit factors, in breakdown order.
pub(crate) fn factors(
    signals: &LeadSignals,
    kind: EmailKind,
    model: &ScoringModel,
) -> Vec<RawFactor> {
    let maxima = model.factor_maxima();
    let max = |factor: Factor| {
        maxima
            .iter()
            .find(|(f, _)| *f == factor)
            .map_or(0, |(_, m)| u64::from(*m))
    };
    let icp = &model.ideal_customer_profile;
    let full = |factor| max(factor) * MICRO;
    let part = |factor, percent: u64| max(factor) * MICRO * percent / 100;
    let make = |factor, earned, reason: String| RawFactor {
        factor,
        earned,
        max: max(factor),
        reason,
    };

    let company_size = match (icp.company_size, signals.company_size) {
        (None, _) => make(
            Factor::CompanySize,
            0,
            "no company size range in the profile".into(),
        ),
        (Some(_), None) => make(Factor::CompanySize, 0, "company size unknown".into()),
        (Some(r), Some(n)) => {
            let n = i64::from(n);
            let range = format!("{}–{}", r.min, r.max);
            if (r.min..=r.max).contains(&n) {
                make(
                    Factor::CompanySize,
                    full(Factor::CompanySize),
                    format!("{n} employees is within {range}"),
                )
            } else if n * 2 >= r.min && n <= r.max.saturating_mul(2) {
                let reason = format!("{n} employees is within a factor of two of {range}");
                make(
                    Factor::CompanySize,
                    part(Factor::CompanySize, NEAR_MISS_PERCENT),
                    reason,
                )
            } else {
                make(
                    Factor::CompanySize,
                    0,
                    format!("{n} employees is outside {range}"),
                )
            }
        }
    };

    let seniority = if icp.seniorities.is_empty() {
        make(
            Factor::Seniority,
            0,
            "no target seniorities in the profile".into(),
        )
    } else {
        match signals.title.as_deref().and_then(Seniority::from_title) {
            None => make(Factor::Seniority, 0, "no title".into()),
            Some(level) => {
                let title = quote(signals.title.as_deref().unwrap_or_default());
                let level_name = level.as_str();
                if icp.seniorities.contains(&level) {
                    let reason = format!("title {title} is {level_name}, a target seniority");
                    make(Factor::Seniority, full(Factor::Seniority), reason)
                } else if icp
                    .seniorities
                    .iter()
                    .any(|t| t.rank().abs_diff(level.rank()) == 1)
                {
                    let reason =
                        format!("title {title} is {level_name}, next to a target seniority");
                    make(
                        Factor::Seniority,
                        part(Factor::Seniority, NEAR_MISS_PERCENT),
                        reason,
                    )
                } else {
                    make(
                        Factor::Seniority,
                        0,
                        format!("title {title} is {level_name}, not a target seniority"),
                    )
                }
            }
        }
    };

    let industry = listed(
        Factor::Industry,
        &icp.industries,
        signals.industry.as_deref().map(|s| s.trim().to_lowercase()),
        "industry",
        "industries",
        full(Factor::Industry),
        max(Factor::Industry),
    );
    let country = listed(
        Factor::Country,
        &icp.countries,
        signals.country.as_deref().map(|s| s.trim().to_uppercase()),
        "country",
        "countries",
        full(Factor::Country),
        max(Factor::Country),
    );

    let domain = signals.email.domain();
    let email_type = match kind {
        EmailKind::Business => make(
            Factor::EmailType,
            full(Factor::EmailType),
            format!("business email domain {domain}"),
        ),
        EmailKind::Free => {
            let reason = format!("free email provider {domain}");
            make(
                Factor::EmailType,
                part(Factor::EmailType, FREE_EMAIL_PERCENT),
                reason,
            )
        }
        EmailKind::Disposable => make(
            Factor::EmailType,
            0,
            format!("disposable email domain {domain}"),
        ),
    };

    let phone = if signals.has_valid_phone {
        make(
            Factor::Phone,
            full(Factor::Phone),
            "valid phone number".into(),
        )
    } else {
        make(Factor::Phone, 0, "no valid phone number".into())
    };

    vec![
        company_size,
        seniority,
        industry,
        country,
        email_type,
        phone,
    ]
}

/// A factor that earns its maximum when the lead's value is on the
/// profile's list (both already in canonical case).
fn listed(
    factor: Factor,
    targets: &[String],
    value: Option<String>,
    what: &str,
    plural: &str,
    full: u64,
    max: u64,
) -> RawFactor {
    let (earned, reason) = match value.filter(|v| !v.is_empty()) {
        _ if targets.is_empty() => (0, format!("no target {plural} in the profile")),
        None => (0, format!("{what} unknown")),
        Some(v) if targets.contains(&v) => (full, format!("{what} {} is a target", quote(&v))),
        Some(v) => (0, format!("{what} {} is not a target", quote(&v))),
    };
    RawFactor {
        factor,
        earned,
        max,
        reason,
    }
}

/// Free text for a reason: quoted, control characters dropped, cut short.
pub(crate) fn quote(text: &str) -> String {
    let mut out: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_QUOTE)
        .collect();
    if text.trim().chars().count() > MAX_QUOTE {
        out.push('…');
    }
    format!("{out:?}")
}
