//! Seniority read from a free-text job title.

use serde::{Deserialize, Serialize};

/// Seniority levels, most senior first. Serialised in snake_case
/// (`"c_level"`), as listed in the ideal customer profile.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Seniority {
    /// Chief officers, founders, owners, presidents, managing directors.
    CLevel,
    /// Vice presidents (VP, SVP, EVP, AVP).
    Vp,
    /// Directors and heads of a function.
    Director,
    /// Managers, team leads, supervisors.
    Manager,
    /// Everyone else with a title: engineers, analysts, specialists, …
    Individual,
    /// Students, interns, trainees, apprentices.
    Student,
}

/// Longest prefix of a title that is looked at.
const MAX_TITLE_CHARS: usize = 200;

/// Titles that name an assistant *to* someone senior, or an "owner" that is
/// a role rather than the owner of a business.
#[rustfmt::skip]
const NOT_SENIOR: &[&str] = &[
    " assistant to ",
    " executive assistant ",
    " personal assistant ",
    " secretary to ",
    " product owner ",
    " process owner ",
    " account owner ",
];

#[rustfmt::skip]
const STUDENT: &[&str] = &[
    " intern ", " internship ", " student ", " trainee ", " apprentice ", " werkstudent ",
    " praktikant ", " stagiaire ",
];
#[rustfmt::skip]
const VP: &[&str] = &[
    " vp ", " svp ", " evp ", " avp ", " vice president ", " v p ", " vicepresident ",
];
#[rustfmt::skip]
const C_LEVEL: &[&str] = &[
    " chief ", " ceo ", " cto ", " cfo ", " coo ", " cmo ", " cio ", " ciso ", " cro ", " cpo ",
    " cdo ", " cso ", " cco ", " founder ", " cofounder ", " owner ", " co owner ", " president ",
    " managing director ", " managing partner ", " general partner ", " chairman ",
    " chairwoman ", " chairperson ", " geschäftsführer ", " geschaftsfuhrer ", " inhaber ",
    " gründer ", " fondateur ", " président ", " directeur général ", " pdg ",
];
#[rustfmt::skip]
const DIRECTOR: &[&str] = &[
    " director ", " head ", " dir ", " partner ", " directeur ", " directrice ", " directora ",
    " leiter ", " leiterin ", " bereichsleiter ",
];
#[rustfmt::skip]
const MANAGER: &[&str] = &[
    " manager ", " mgr ", " team lead ", " team leader ", " supervisor ", " gerente ",
    " responsable ", " teamleiter ",
];

impl Seniority {
    /// Rank for adjacency: C-level 5 down to student 0.
    pub const fn rank(self) -> u8 {
        match self {
            Seniority::CLevel => 5,
            Seniority::Vp => 4,
            Seniority::Director => 3,
            Seniority::Manager => 2,
            Seniority::Individual => 1,
            Seniority::Student => 0,
        }
    }

    /// The snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            Seniority::CLevel => "c_level",
            Seniority::Vp => "vp",
            Seniority::Director => "director",
            Seniority::Manager => "manager",
            Seniority::Individual => "individual",
            Seniority::Student => "student",
        }
    }

    /// Reads the seniority of a job title; `None` for a blank title.
    ///
    /// The title is lower-cased and split into words on anything that is
    /// not a letter or digit (`Co-Founder & CTO` → `co founder cto`), then
    /// matched against keyword lists, most specific first: assistants to
    /// executives and role "owners" are individuals; then student, VP
    /// (before "president"), C-level, director, manager; any other
    /// non-blank title is an individual contributor. English plus a few
    /// common German, French and Spanish words.
    pub fn from_title(title: &str) -> Option<Seniority> {
        let mut words = String::with_capacity(title.len().min(MAX_TITLE_CHARS) + 2);
        words.push(' ');
        for c in title
            .chars()
            .take(MAX_TITLE_CHARS)
            .flat_map(char::to_lowercase)
        {
            let c = if c.is_alphanumeric() { c } else { ' ' };
            if !(c == ' ' && words.ends_with(' ')) {
                words.push(c);
            }
        }
        if words.trim().is_empty() {
            return None;
        }
        if !words.ends_with(' ') {
            words.push(' ');
        }
        let has = |list: &[&str]| list.iter().any(|k| words.contains(k));
        let level = if has(NOT_SENIOR) {
            Seniority::Individual
        } else if has(STUDENT) {
            Seniority::Student
        } else if has(VP) {
            Seniority::Vp
        } else if has(C_LEVEL) {
            Seniority::CLevel
        } else if has(DIRECTOR) {
            Seniority::Director
        } else if has(MANAGER) {
            Seniority::Manager
        } else {
            Seniority::Individual
        };
        Some(level)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::Seniority::{self, *};

    #[test]
    fn parses_common_titles() {
        let cases: &[(&str, Option<Seniority>)] = &[
            ("CEO", Some(CLevel)),
            ("Co-Founder & CTO", Some(CLevel)),
            ("Chief Revenue Officer", Some(CLevel)),
            ("Founder", Some(CLevel)),
            ("Owner", Some(CLevel)),
            ("President", Some(CLevel)),
            ("Managing Director, EMEA", Some(CLevel)),
            ("Geschäftsführer", Some(CLevel)),
            ("VP of Sales", Some(Vp)),
            ("SVP Marketing", Some(Vp)),
            ("Vice-President, Engineering", Some(Vp)),
            ("Executive Vice President", Some(Vp)),
            ("V.P. Operations", Some(Vp)),
            ("Director of Engineering", Some(Director)),
            ("Head of Growth", Some(Director)),
            ("Senior Director, Product", Some(Director)),
            ("Directeur commercial", Some(Director)),
            ("Marketing Manager", Some(Manager)),
            ("Engineering Team Lead", Some(Manager)),
            ("Sr. Software Engineer", Some(Individual)),
            ("Account Executive", Some(Individual)),
            ("Product Owner", Some(Individual)),
            ("Executive Assistant to the CEO", Some(Individual)),
            ("Data Analyst", Some(Individual)),
            ("Marketing Intern", Some(Student)),
            ("PhD Student", Some(Student)),
            ("Working Student (Werkstudent)", Some(Student)),
            ("", None),
            ("  -- ", None),
        ];
        for (title, expected) in cases {
            assert_eq!(Seniority::from_title(title), *expected, "{title:?}");
        }
    }

    #[test]
    fn words_match_whole_not_inside_other_words() {
        // "director" inside "directory", "cto" inside "doctor", "vp" inside "vpn".
        assert_eq!(
            Seniority::from_title("Directory Services Engineer"),
            Some(Individual)
        );
        assert_eq!(Seniority::from_title("Doctor"), Some(Individual));
        assert_eq!(Seniority::from_title("VPN Administrator"), Some(Individual));
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&CLevel).unwrap(), "\"c_level\"");
        assert_eq!(serde_json::from_str::<Seniority>("\"vp\"").unwrap(), Vp);
        for s in [CLevel, Vp, Director, Manager, Individual, Student] {
            assert_eq!(
                serde_json::to_string(&s).unwrap(),
                format!("\"{}\"", s.as_str())
            );
        }
    }

    proptest! {
        #[test]
        fn never_panics_and_blank_iff_no_alphanumerics(title in "\\PC{0,300}") {
            let parsed = Seniority::from_title(&title);
            let blank = !title.chars().take(200).any(char::is_alphanumeric);
            prop_assert_eq!(parsed.is_none(), blank);
        }
    }
}
