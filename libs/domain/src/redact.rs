//! Redaction of personal data for logs and traces (docs/architecture.md §8: never log a
//! raw email or phone number).
//!
//! Both functions take raw strings, not only parsed values, because the
//! inputs most worth logging are the ones that failed to parse.

/// Longest domain kept in a redacted email; longer ones are cut, so a
/// malformed input cannot smuggle a whole address into a log line.
const MAX_DOMAIN_SHOWN: usize = 64;

/// `jane.doe@Example.com` → `j***@example.com`.
///
/// Keeps the first character of the local part and the lower-cased domain
/// (a company name, useful when debugging routing). Anything without a
/// usable `@` becomes `***`.
pub fn email(raw: &str) -> String {
    let raw = raw.trim();
    let Some((local, domain)) = raw.rsplit_once('@') else {
        return "***".to_owned();
    };
    let first = local.chars().next().filter(|c| c.is_alphanumeric());
    let domain: String = domain
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '.' | '-'))
        .take(MAX_DOMAIN_SHOWN)
        .collect::<String>()
        .to_lowercase();
    match (first, domain.is_empty()) {
        (Some(c), false) => format!("{c}***@{domain}"),
        (None, false) => format!("***@{domain}"),
        (_, true) => "***".to_owned(),
    }
}

/// `+1 415 555 0123` → `+***23`: only the last two digits survive, and the
/// number of digits is not revealed.
pub fn phone(raw: &str) -> String {
    let digits: Vec<char> = raw.chars().filter(char::is_ascii_digit).collect();
    match digits.as_slice() {
        [.., a, b] if digits.len() >= 6 => format!("+***{a}{b}"),
        _ => "***".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn redacts_emails() {
        assert_eq!(email("jane.doe@Example.com"), "j***@example.com");
        assert_eq!(email(" x@b.co "), "x***@b.co");
        assert_eq!(email("not an email"), "***");
        assert_eq!(email("@example.com"), "***@example.com");
        assert_eq!(email("jane@"), "***");
        assert_eq!(email("a@b@evil.com"), "a***@evil.com");
    }

    #[test]
    fn redacts_phones() {
        assert_eq!(phone("+1 (415) 555-0123"), "+***23");
        assert_eq!(phone("12345"), "***");
        assert_eq!(phone(""), "***");
    }

    proptest! {
        #[test]
        fn redacted_email_keeps_only_the_first_character(local in "[a-z0-9]{2,30}", domain in "[a-z]{1,10}\\.com") {
            let out = email(&format!("{local}@{domain}"));
            prop_assert_eq!(out, format!("{}***@{domain}", &local[..1]));
        }

        #[test]
        fn redacted_phone_keeps_at_most_two_digits(raw in "\\PC{0,40}") {
            prop_assert!(phone(&raw).chars().filter(char::is_ascii_digit).count() <= 2);
        }
    }
}
