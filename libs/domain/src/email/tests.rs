use proptest::prelude::*;

use super::*;

#[test]
fn accepts_and_normalises_common_addresses() {
    let e = Email::parse("  Jane.Doe+leads@Example.COM \n").unwrap();
    assert_eq!(e.as_str(), "Jane.Doe+leads@example.com");
    assert_eq!(e.local_part(), "Jane.Doe+leads");
    assert_eq!(e.domain(), "example.com");
    assert_eq!(e.match_key(), "jane.doe+leads@example.com");
    for ok in [
        "a@b.co",
        "o'brien@sub.example.co.uk",
        "x_y-z@xn--bcher-kva.de",
        "first.last@123.example.org",
        "user@my-company.io",
    ] {
        assert!(Email::parse(ok).is_ok(), "{ok}");
    }
}

#[test]
fn internationalised_domains_become_punycode() {
    let e = Email::parse("kontakt@Bücher.de").unwrap();
    assert_eq!(e.domain(), "xn--bcher-kva.de");
}

#[test]
fn rejects_malformed_addresses_with_a_typed_error() {
    use EmailError::*;
    let cases: &[(&str, EmailError)] = &[
        ("", Empty),
        ("   ", Empty),
        ("plainaddress", MissingAt),
        ("@example.com", MissingAt),
        ("user@", MissingAt),
        ("a@b@example.com", InvalidLocalPart),
        (".user@example.com", InvalidLocalPart),
        ("user.@example.com", InvalidLocalPart),
        ("us..er@example.com", InvalidLocalPart),
        ("\"quoted\"@example.com", InvalidLocalPart),
        ("us er@example.com", InvalidLocalPart),
        ("user@localhost", InvalidDomain),
        ("user@example", InvalidDomain),
        ("user@example.com.", InvalidDomain),
        ("user@-example.com", InvalidDomain),
        ("user@exa_mple.com", InvalidDomain),
        ("user@exa!mple.com", InvalidDomain),
        ("user@[127.0.0.1]", InvalidDomain),
        ("user@127.0.0.1", InvalidDomain),
        ("user@example..com", InvalidDomain),
        ("user@example.c", InvalidDomain),
        ("Jane <jane@example.com>", InvalidLocalPart),
    ];
    for (input, expected) in cases {
        assert_eq!(Email::parse(input).as_ref(), Err(expected), "{input:?}");
    }
}

#[test]
fn enforces_length_limits() {
    let local = "a".repeat(64);
    assert!(Email::parse(&format!("{local}@example.com")).is_ok());
    let local = "a".repeat(65);
    assert_eq!(
        Email::parse(&format!("{local}@example.com")),
        Err(EmailError::InvalidLocalPart)
    );
    let domain = format!(
        "{}.{}.{}.com",
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(60)
    );
    let at_limit = format!("{}@{domain}", "a".repeat(MAX_LEN - domain.len() - 1));
    assert_eq!(at_limit.len(), MAX_LEN);
    assert!(Email::parse(&at_limit).is_ok());
    assert_eq!(
        Email::parse(&format!("a{at_limit}")),
        Err(EmailError::TooLong)
    );
    assert_eq!(Email::parse(&"x".repeat(10_000)), Err(EmailError::TooLong));
}

#[test]
fn debug_is_redacted_and_serde_validates() {
    let e = Email::parse("jane@example.com").unwrap();
    assert_eq!(format!("{e:?}"), "Email(j***@example.com)");
    assert_eq!(serde_json::to_string(&e).unwrap(), "\"jane@example.com\"");
    let back: Email = serde_json::from_str("\" jane@EXAMPLE.com\"").unwrap();
    assert_eq!(back, e);
    assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
}

fn label() -> impl Strategy<Value = String> {
    // No "--" in positions 3-4: IDNA reserves those labels ("xn--").
    "[a-z0-9]{1,10}(-[a-z0-9]{1,10}){0,2}"
}

fn valid_email() -> impl Strategy<Value = String> {
    (
        "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\\.[A-Za-z0-9_+-]{1,10}){0,2}",
        prop::collection::vec(label(), 1..4),
        "[a-z]{2,8}",
    )
        .prop_map(|(local, labels, tld)| format!("{local}@{}.{tld}", labels.join(".")))
}

proptest! {
    #[test]
    fn valid_addresses_parse_and_normalisation_is_idempotent(raw in valid_email(), pad in "[ \t]{0,3}") {
        let (l, d) = raw.rsplit_once('@').unwrap();
        let upper_domain = format!("{pad}{l}@{}{pad}", d.to_uppercase());
        let e = Email::parse(&upper_domain).unwrap();
        prop_assert_eq!(e.as_str(), raw.as_str());
        prop_assert_eq!(&Email::parse(e.as_str()).unwrap(), &e);
        prop_assert_eq!(e.domain().to_ascii_lowercase(), e.domain());
        prop_assert!(e.as_str().len() <= MAX_LEN);
    }

    #[test]
    fn never_panics_and_output_is_always_valid(raw in "\\PC{0,80}") {
        if let Ok(e) = Email::parse(&raw) {
            prop_assert!(e.as_str().len() <= MAX_LEN);
            prop_assert_eq!(e.as_str().matches('@').count(), 1);
            prop_assert_eq!(&Email::parse(e.as_str()).unwrap(), &e);
        }
    }

    #[test]
    fn anything_longer_than_the_limit_is_rejected(raw in valid_email(), extra in 255usize..600) {
        let long = format!("{}{raw}", "a".repeat(extra));
        prop_assert!(Email::parse(&long).is_err());
    }
}
