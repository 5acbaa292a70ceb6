//! What a completion must satisfy before it is sent instead of the
//! template: not empty, within the channel's length bound, and no links
//! but the campaign's own (those its template for the channel holds, by
//! host). The footer and unsubscribe line of an email are the suite's, added
//! at send time ([`with_footer`]), so the model is never trusted with them.

/// Why a completion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Breach {
    /// Nothing but white space.
    #[error("the completion is empty")]
    Empty,
    /// Longer than the bound.
    #[error("the completion has {chars} characters, more than {max}")]
    TooLong {
        /// Its length.
        chars: usize,
        /// The bound.
        max: usize,
    },
    /// A link to a host the campaign does not use.
    #[error("the completion links to a foreign host ({0})")]
    ForeignUrl(String),
}

impl Breach {
    /// The kind of breach, for logs (never the text or a host from it).
    pub fn kind(&self) -> &'static str {
        match self {
            Breach::Empty => "empty",
            Breach::TooLong { .. } => "too_long",
            Breach::ForeignUrl(_) => "foreign_url",
        }
    }
}

/// The completion as it will be sent (trimmed), or why it must not be.
/// `own` is the text the campaign wrote for the channel (its template): the
/// hosts it links to are the only ones allowed.
pub fn check(text: &str, max_chars: usize, own: &str) -> Result<String, Breach> {
    let text = text.trim();
    if text.is_empty() {
        return Err(Breach::Empty);
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(Breach::TooLong {
            chars,
            max: max_chars,
        });
    }
    let allowed: Vec<String> = hosts(own).collect();
    if let Some(foreign) = hosts(text).find(|h| !allowed.contains(h)) {
        return Err(Breach::ForeignUrl(foreign));
    }
    Ok(text.to_owned())
}

/// The hosts of the links in `text` (`http://`, `https://` or `www.`),
/// lower-cased, without a port.
fn hosts(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '(' | ')' | '[' | ']'))
        .filter_map(|word| {
            let lower = word.to_ascii_lowercase();
            let rest = ["https://", "http://"]
                .iter()
                .find_map(|scheme| {
                    lower
                        .find(scheme)
                        .map(|at| lower[at + scheme.len()..].to_owned())
                })
                .or_else(|| lower.find("www.").map(|at| lower[at..].to_owned()))?;
            let host: String = rest
                .split(['/', '\\', '?', '#'])
                .next()
                .unwrap_or("")
                .rsplit('@')
                .next()
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
                .trim_end_matches(['.', ',', ';', '!', '?'])
                .to_owned();
            (!host.is_empty()).then_some(host)
        })
}

/// An email body with the suite's footer: a signature separator, then the
/// footer (which carries the unsubscribe line).
pub fn with_footer(body: &str, footer: &str) -> String {
    if footer.trim().is_empty() {
        return body.to_owned();
    }
    format!("{body}\n\n-- \n{footer}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_campaigns_own_links_pass_and_others_do_not() {
        let own = "Book a demo: https://acme.example/demo";
        assert_eq!(
            check(" See https://acme.example/pricing. ", 100, own),
            Ok("See https://acme.example/pricing.".into())
        );
        assert_eq!(
            check("Try http://evil.example:8080/x", 100, own),
            Err(Breach::ForeignUrl("evil.example".into()))
        );
        assert_eq!(
            check("Go to www.other.example now", 100, own),
            Err(Breach::ForeignUrl("www.other.example".into()))
        );
        assert_eq!(
            check("(https://user@evil.example)", 100, own),
            Err(Breach::ForeignUrl("evil.example".into()))
        );
        assert_eq!(
            check("https://evil.example\\@acme.example/x", 100, own),
            Err(Breach::ForeignUrl("evil.example".into()))
        );
    }

    #[test]
    fn empty_and_long_completions_are_refused() {
        assert_eq!(check("  \n", 10, ""), Err(Breach::Empty));
        assert_eq!(
            check("ééééé ééééé", 10, ""),
            Err(Breach::TooLong { chars: 11, max: 10 })
        );
        assert_eq!(check("ééééé", 5, ""), Ok("ééééé".into()));
    }

    #[test]
    fn the_footer_follows_a_signature_separator() {
        assert_eq!(with_footer("Hi", "Reply STOP"), "Hi\n\n-- \nReply STOP");
        assert_eq!(with_footer("Hi", " "), "Hi");
    }
}
