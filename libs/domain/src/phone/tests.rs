use proptest::prelude::*;

use super::*;

#[test]
fn normalises_common_formats() {
    for (input, expected) in [
        ("+14155550123", "+14155550123"),
        (" +1 (415) 555-0123 ", "+14155550123"),
        ("+44 20 7946 0958", "+442079460958"),
        ("0049 30/1234567", "+49301234567"),
        ("+33.1.23.45.67.89", "+33123456789"),
        ("+49\u{a0}30 1234567", "+49301234567"),
    ] {
        assert_eq!(
            PhoneE164::parse(input).unwrap().as_str(),
            expected,
            "{input:?}"
        );
    }
}

#[test]
fn rejects_with_a_typed_error() {
    use PhoneError::*;
    let cases: &[(&str, PhoneError)] = &[
        ("", Empty),
        ("  ", Empty),
        ("4155550123", MissingCountryCode),
        ("(415) 555-0123", MissingCountryCode),
        ("+1 415 555 0123 ext 4", InvalidCharacter),
        ("+1-415-CALL-NOW", InvalidCharacter),
        ("++14155550123", InvalidCharacter),
        ("+1415+5550123", InvalidCharacter),
        ("+１４１５５５５", InvalidCharacter),
        ("+0123456789", LeadingZero),
        ("+1234567", WrongLength),
        ("+1234567890123456", WrongLength),
        ("+", WrongLength),
        ("+1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7", TooLong),
    ];
    for (input, expected) in cases {
        assert_eq!(PhoneE164::parse(input).as_ref(), Err(expected), "{input:?}");
    }
}

#[test]
fn debug_is_redacted_and_serde_validates() {
    let p = PhoneE164::parse("+14155550123").unwrap();
    assert_eq!(format!("{p:?}"), "PhoneE164(+***23)");
    assert_eq!(p.digits(), "14155550123");
    assert_eq!(serde_json::to_string(&p).unwrap(), "\"+14155550123\"");
    let back: PhoneE164 = serde_json::from_str("\"+1 415 555 0123\"").unwrap();
    assert_eq!(back, p);
    assert!(serde_json::from_str::<PhoneE164>("\"555\"").is_err());
}

fn separator() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", " ", "-", ".", "/", "(", ")"])
}

proptest! {
    #[test]
    fn digits_with_any_separators_normalise_to_e164(
        first in 1u8..=9,
        rest in prop::collection::vec(0u8..=9, 7..=14),
        seps in prop::collection::vec(separator(), 15),
    ) {
        let digits: String = std::iter::once(first).chain(rest).map(|d| char::from(b'0' + d)).collect();
        let mut raw = String::from("+");
        for (d, sep) in digits.chars().zip(&seps) {
            raw.push(d);
            raw.push_str(sep);
        }
        prop_assume!(raw.len() <= MAX_INPUT_LEN);
        let p = PhoneE164::parse(&raw).unwrap();
        prop_assert_eq!(p.as_str(), format!("+{digits}"));
        prop_assert_eq!(&PhoneE164::parse(p.as_str()).unwrap(), &p);
    }

    #[test]
    fn never_panics_and_output_is_always_e164(raw in "\\PC{0,40}") {
        if let Ok(p) = PhoneE164::parse(&raw) {
            let d = p.digits();
            prop_assert!(p.as_str().starts_with('+'));
            prop_assert!((MIN_DIGITS..=MAX_DIGITS).contains(&d.len()));
            prop_assert!(d.bytes().all(|b| b.is_ascii_digit()));
            prop_assert!(!d.starts_with('0'));
        }
    }
}
