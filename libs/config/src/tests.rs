#![allow(clippy::result_large_err)] // figment::Jail closures return figment::Error by design.

use figment::Jail;
use secrecy::ExposeSecret;

use super::*;

#[test]
fn defaults_match_the_local_stack() {
    Jail::expect_with(|_| {
        let s = load("lead-triage", 8081).expect("defaults are valid");
        assert_eq!(s.http.bind.to_string(), "127.0.0.1:8081");
        assert_eq!(s.redis.nodes.len(), 6);
        assert_eq!(s.database.replica_urls.len(), 1);
        assert_eq!(s.group_id(), "lead-triage");
        assert_eq!(s.kafka.fetch_wait_max_ms, 500);
        Ok(())
    });
}

#[test]
fn environment_overrides_file_which_overrides_defaults() {
    Jail::expect_with(|jail| {
        jail.create_file(
            "suite.toml",
            "[kafka]\nbrokers = \"file:9092\"\ntopic_prefix = \"from-file.\"\n",
        )?;
        jail.set_env(CONFIG_FILE_VAR, "suite.toml");
        jail.set_env("SUITE__KAFKA__BROKERS", "env:9092");
        jail.set_env(
            "SUITE__REDIS__NODES",
            "redis://10.0.0.1:7000, redis://10.0.0.2:7000",
        );
        let s = load("engagement", 8082).expect("valid");
        assert_eq!(s.kafka.brokers, "env:9092");
        assert_eq!(s.kafka.topic_prefix, "from-file.");
        assert_eq!(s.redis.nodes.len(), 2);
        assert_eq!(s.redis.nodes[1].expose_secret(), "redis://10.0.0.2:7000");
        assert_eq!(s.topic("leads.hot"), "from-file.leads.hot");
        Ok(())
    });
}

#[test]
fn a_wrong_type_names_the_environment_variable() {
    Jail::expect_with(|jail| {
        jail.set_env("SUITE__DATABASE__MAX_CONNECTIONS", "many");
        let err = load("engagement", 8082).expect_err("invalid").to_string();
        assert!(err.contains("SUITE__DATABASE__MAX_CONNECTIONS"), "{err}");
        Ok(())
    });
}

#[test]
fn an_unknown_setting_is_rejected_by_name() {
    Jail::expect_with(|jail| {
        jail.set_env("SUITE__DATABASE__URLL", "postgres://x/y");
        let err = load("engagement", 8082).expect_err("typo").to_string();
        assert!(err.contains("SUITE__DATABASE__URLL:"), "{err}");
        assert!(!err.contains("URLL__URLL"), "{err}");
        assert!(err.contains("unknown setting"), "{err}");
        Ok(())
    });
}

#[test]
fn validation_names_the_key_and_never_prints_the_secret() {
    Jail::expect_with(|jail| {
        jail.set_env("SUITE__DATABASE__URL", "mysql://admin:hunter2@db/x");
        let err = load("engagement", 8082)
            .expect_err("bad scheme")
            .to_string();
        assert!(err.contains("SUITE__DATABASE__URL"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        Ok(())
    });
}

#[test]
fn debug_output_redacts_secrets() {
    Jail::expect_with(|jail| {
        jail.set_env("SUITE__DATABASE__URL", "postgres://admin:hunter2@db/x");
        let s = load("engagement", 8082).expect("valid");
        let debug = format!("{s:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        Ok(())
    });
}

#[test]
fn zero_concurrency_is_rejected() {
    Jail::expect_with(|jail| {
        jail.set_env("SUITE__HTTP__MAX_CONCURRENCY", "0");
        let err = load("engagement", 8082).expect_err("zero").to_string();
        assert!(err.contains("SUITE__HTTP__MAX_CONCURRENCY"), "{err}");
        Ok(())
    });
}

#[test]
fn a_fetch_wait_of_zero_or_past_the_session_timeout_is_rejected() {
    for (wait, session) in [("0", "30000"), ("30000", "30000")] {
        Jail::expect_with(|jail| {
            jail.set_env("SUITE__KAFKA__FETCH_WAIT_MAX_MS", wait);
            jail.set_env("SUITE__KAFKA__SESSION_TIMEOUT_MS", session);
            let err = load("engagement", 8082).expect_err("invalid").to_string();
            assert!(err.contains("SUITE__KAFKA__FETCH_WAIT_MAX_MS"), "{err}");
            Ok(())
        });
    }
    Jail::expect_with(|jail| {
        jail.set_env("SUITE__KAFKA__FETCH_WAIT_MAX_MS", "100");
        let s = load("engagement", 8082).expect("valid");
        assert_eq!(s.kafka.fetch_wait_max_ms, 100);
        Ok(())
    });
}

#[test]
fn flatten_lists_every_key_with_secrets_redacted() {
    Jail::expect_with(|jail| {
        jail.set_env("SUITE__DATABASE__URL", "postgres://admin:hunter2@db/x");
        let s = load("engagement", 8082).expect("valid");
        let keys = s.flatten();
        let get = |k: &str| {
            keys.iter()
                .find(|(name, _)| name == k)
                .map(|(_, v)| v.clone())
        };
        assert_eq!(
            get("SUITE__DATABASE__URL").as_deref(),
            Some(settings::REDACTED)
        );
        assert_eq!(get("SUITE__HTTP__BIND").as_deref(), Some("127.0.0.1:8082"));
        assert_eq!(
            get("SUITE__KAFKA__FETCH_WAIT_MAX_MS").as_deref(),
            Some("500")
        );
        assert!(get("SUITE__REDIS__NODES").is_some_and(|v| v.split(',').count() == 6));
        assert!(!format!("{keys:?}").contains("hunter2"));
        // Every listed key is accepted back from the environment.
        for (name, _) in &keys {
            assert!(name.starts_with(ENV_PREFIX), "{name}");
        }
        Ok(())
    });
}

#[test]
fn engagement_settings_are_validated_naming_the_key() {
    let error_for = |key: &'static str, value: &'static str| {
        let mut message = String::new();
        Jail::expect_with(|jail| {
            jail.set_env(key, value);
            message = load("engagement", 8082).expect_err("invalid").to_string();
            Ok(())
        });
        message
    };
    let e = error_for("SUITE__ENGAGEMENT__EMAIL_PROVIDER", "carrier-pigeon");
    assert!(e.contains("SUITE__ENGAGEMENT__EMAIL_PROVIDER"), "{e}");
    let e = error_for("SUITE__ENGAGEMENT__SMS_PROVIDER", "webhook");
    assert!(
        e.contains("SUITE__ENGAGEMENT__WEBHOOK_URL"),
        "webhook needs a URL: {e}"
    );
    let e = error_for("SUITE__ENGAGEMENT__QUIET_START", "25:00");
    assert!(e.contains("SUITE__ENGAGEMENT__QUIET_START"), "{e}");
    let e = error_for("SUITE__ENGAGEMENT__DEFAULT_TIMEZONE", "Mars/Olympus");
    assert!(e.contains("SUITE__ENGAGEMENT__DEFAULT_TIMEZONE"), "{e}");
    let e = error_for("SUITE__ENGAGEMENT__SMTP_PASSWORD_TYPO", "x");
    assert!(e.contains("unknown setting"), "{e}");
    Jail::expect_with(|jail| {
        jail.set_env("SUITE__ENGAGEMENT__SMS_PROVIDER", "webhook");
        jail.set_env(
            "SUITE__ENGAGEMENT__WEBHOOK_URL",
            "http://gateway.local/send",
        );
        jail.set_env("SUITE__ENGAGEMENT__SMTP_PASSWORD", "hunter2");
        let s = load("engagement", 8082).expect("valid");
        assert_eq!(s.engagement.sms_provider, "webhook");
        assert!(
            !format!("{:?}", s.engagement).contains("hunter2"),
            "secret never printed"
        );
        assert!(s.flatten().iter().all(|(_, v)| v != "hunter2"));
        Ok(())
    });
}

#[test]
fn language_model_settings_are_off_by_default_and_validated_when_on() {
    Jail::expect_with(|_| {
        let s = load("engagement", 8082).expect("defaults");
        assert!(!s.llm.enabled(), "generation is off unless configured");
        Ok(())
    });
    let error_for = |pairs: &[(&'static str, &'static str)]| {
        let mut message = String::new();
        Jail::expect_with(|jail| {
            for (k, v) in pairs {
                jail.set_env(k, v);
            }
            message = load("engagement", 8082).expect_err("invalid").to_string();
            Ok(())
        });
        message
    };
    let on = ("SUITE__LLM__BASE_URL", "http://127.0.0.1:11434/v1");
    let e = error_for(&[("SUITE__LLM__BASE_URL", "not a url")]);
    assert!(e.contains("SUITE__LLM__BASE_URL"), "{e}");
    let e = error_for(&[on, ("SUITE__LLM__ON_LIMIT", "panic")]);
    assert!(e.contains("SUITE__LLM__ON_LIMIT"), "{e}");
    let e = error_for(&[on, ("SUITE__LLM__PRICES", "gpt-4o-mini=cheap")]);
    assert!(e.contains("SUITE__LLM__PRICES"), "{e}");
    let e = error_for(&[on, ("SUITE__LLM__REQUESTS_PER_MINUTE", "0")]);
    assert!(e.contains("SUITE__LLM__REQUESTS_PER_MINUTE"), "{e}");
    Jail::expect_with(|jail| {
        jail.set_env(on.0, on.1);
        jail.set_env("SUITE__LLM__PRICES", "gpt-4o-mini=150/600, *=1000/2000");
        jail.set_env("SUITE__LLM__API_KEY", "sk-hunter2");
        let s = load("engagement", 8082).expect("valid");
        assert!(s.llm.enabled());
        assert_eq!(s.llm.prices.len(), 2);
        assert!(
            !format!("{s:?}").contains("sk-hunter2"),
            "the key is redacted"
        );
        Ok(())
    });
}
