//! Business, free or disposable: the kind of an email domain.
//!
//! Free providers: the compact list below (the large consumer mailbox
//! providers by region; a company on one of them is still a lead, just a
//! weaker one). Disposable domains: the list of the `mailchecker` crate
//! (about 56,000 domains, MIT, updated by its maintainers several times a
//! year), loaded once into a hash set; bump the crate to refresh it. A
//! domain matches a list when it or any parent domain is on it
//! (`x.mailinator.com`). The free list wins over the disposable one, so a
//! stray entry there cannot disqualify every Gmail lead.

use std::collections::HashSet;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

/// What kind of mailbox an email domain is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailKind {
    /// Anything not on either list: presumably the lead's organisation.
    Business,
    /// A consumer mailbox provider (Gmail, Outlook.com, GMX, QQ, …).
    Free,
    /// A throwaway-address service (Mailinator, 10 Minute Mail, …).
    Disposable,
}

impl EmailKind {
    /// The snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            EmailKind::Business => "business",
            EmailKind::Free => "free",
            EmailKind::Disposable => "disposable",
        }
    }
}

/// Consumer mailbox providers.
#[rustfmt::skip]
const FREE_PROVIDERS: &[&str] = &[
    // Global
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "ymail.com", "rocketmail.com", "aol.com", "aim.com", "icloud.com", "me.com",
    "mac.com", "proton.me", "protonmail.com", "protonmail.ch", "pm.me", "tutanota.com",
    "tutanota.de", "tuta.io", "tuta.com", "fastmail.com", "fastmail.fm", "hey.com", "zoho.com",
    "zohomail.com", "mail.com", "email.com", "gmx.com", "gmx.net", "inbox.com", "hushmail.com",
    "mailfence.com", "lycos.com", "excite.com", "yandex.com",
    // Regional variants of the global ones
    "outlook.de", "outlook.fr", "outlook.es", "outlook.it", "hotmail.co.uk", "hotmail.fr",
    "hotmail.de", "hotmail.it", "hotmail.es", "hotmail.nl", "live.co.uk", "live.fr", "live.de",
    "live.nl", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.es", "yahoo.ca",
    "yahoo.com.au", "yahoo.com.br", "yahoo.com.mx", "yahoo.co.in", "yahoo.co.jp",
    // Europe
    "gmx.de", "gmx.at", "gmx.ch", "web.de", "t-online.de", "freenet.de", "posteo.de",
    "mailbox.org", "orange.fr", "wanadoo.fr", "free.fr", "laposte.net", "sfr.fr", "libero.it",
    "virgilio.it", "tiscali.it", "alice.it", "btinternet.com", "sky.com", "virginmedia.com",
    "ntlworld.com", "ziggo.nl", "kpnmail.nl", "telenet.be", "skynet.be", "bluewin.ch",
    "seznam.cz", "wp.pl", "o2.pl", "onet.pl", "interia.pl", "mail.ru", "bk.ru", "inbox.ru",
    "list.ru", "rambler.ru", "yandex.ru", "ya.ru",
    // Americas and Oceania
    "comcast.net", "verizon.net", "att.net", "sbcglobal.net", "bellsouth.net", "cox.net",
    "charter.net", "earthlink.net", "optonline.net", "shaw.ca", "rogers.com", "sympatico.ca",
    "bigpond.com", "optusnet.com.au", "uol.com.br", "bol.com.br", "terra.com.br",
    // Asia
    "qq.com", "163.com", "126.com", "yeah.net", "sina.com", "sohu.com", "foxmail.com",
    "aliyun.com", "naver.com", "daum.net", "hanmail.net", "rediffmail.com",
];

static FREE: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| FREE_PROVIDERS.iter().copied().collect());

static DISPOSABLE: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| mailchecker::blacklist().into_iter().collect());

/// Loads the disposable-domain set now rather than on the first lead (a
/// service calls this at startup to keep the first request fast).
pub fn warm_up() {
    LazyLock::force(&FREE);
    LazyLock::force(&DISPOSABLE);
}

/// Classifies a lower-case ASCII domain, as returned by
/// [`suite_domain::Email::domain`].
pub fn classify(domain: &str) -> EmailKind {
    if on_list(&FREE, domain) {
        EmailKind::Free
    } else if on_list(&DISPOSABLE, domain) {
        EmailKind::Disposable
    } else {
        EmailKind::Business
    }
}

/// Whether `domain` equals `listed` or is a subdomain of it.
pub fn is_same_or_subdomain(domain: &str, listed: &str) -> bool {
    domain == listed
        || domain
            .strip_suffix(listed)
            .is_some_and(|head| head.ends_with('.'))
}

/// `domain` or one of its parents (down to two labels) is in `set`.
fn on_list(set: &HashSet<&'static str>, domain: &str) -> bool {
    let mut rest = domain;
    loop {
        if set.contains(rest) {
            return true;
        }
        match rest.split_once('.') {
            Some((_, parent)) if parent.contains('.') => rest = parent,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_domains() {
        assert_eq!(classify("gmail.com"), EmailKind::Free);
        assert_eq!(classify("yahoo.co.uk"), EmailKind::Free);
        assert_eq!(classify("qq.com"), EmailKind::Free);
        assert_eq!(classify("mailinator.com"), EmailKind::Disposable);
        assert_eq!(classify("eu.mailinator.com"), EmailKind::Disposable);
        assert_eq!(classify("10minutemail.com"), EmailKind::Disposable);
        assert_eq!(classify("guerrillamail.com"), EmailKind::Disposable);
        assert_eq!(classify("acme.io"), EmailKind::Business);
        assert_eq!(classify("example.co.uk"), EmailKind::Business);
        assert_eq!(classify("com"), EmailKind::Business);
        assert_eq!(classify(""), EmailKind::Business);
    }

    #[test]
    fn no_free_provider_is_also_disposable_by_accident() {
        // Not a requirement (free wins), but a conflict would mean a bad list.
        let clashes: Vec<_> = FREE_PROVIDERS
            .iter()
            .filter(|d| DISPOSABLE.contains(*d))
            .collect();
        assert!(clashes.is_empty(), "{clashes:?}");
        assert!(DISPOSABLE.len() > 10_000);
    }

    #[test]
    fn subdomain_matching_respects_label_boundaries() {
        assert!(is_same_or_subdomain("rival.com", "rival.com"));
        assert!(is_same_or_subdomain("eu.rival.com", "rival.com"));
        assert!(!is_same_or_subdomain("notrival.com", "rival.com"));
        assert!(!is_same_or_subdomain("rival.com.evil.io", "rival.com"));
    }
}
