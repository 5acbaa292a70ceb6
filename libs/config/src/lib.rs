//! Layered configuration: built-in defaults, then an optional TOML file
//! (`SUITE_CONFIG_FILE`), then environment variables (`SUITE__SECTION__KEY`).
//!
//! Everything is validated once at start-up; an error names the offending
//! key the way an operator would set it (`SUITE__DATABASE__URL`). Secrets
//! are [`secrecy::SecretString`]s and never appear in `Debug` output.

mod list;
pub mod settings;
mod validate;

pub use settings::{
    CacheSettings, ConsumerSettings, DatabaseSettings, EngagementSettings, HttpSettings,
    KafkaSettings, LlmSettings, OutboxSettings, RateLimitSettings, RedisSettings,
    RetentionSettings, Settings, TelemetrySettings,
};
pub use validate::ConfigError;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;

/// Environment prefix of every setting.
pub const ENV_PREFIX: &str = "SUITE__";
/// Environment variable naming an optional TOML file layered under the environment.
pub const CONFIG_FILE_VAR: &str = "SUITE_CONFIG_FILE";

/// Loads and validates the settings of `service`, whose HTTP port defaults to `default_port`.
pub fn load(service: &str, default_port: u16) -> Result<Settings, ConfigError> {
    let figment = figment(service, default_port);
    from_figment(&figment)
}

/// The layered sources, exposed so tests and tools can add their own layer on top.
pub fn figment(service: &str, default_port: u16) -> Figment {
    let mut figment = Figment::new()
        .merge(Serialized::default("service", service))
        .merge(Serialized::default(
            "http.bind",
            format!("127.0.0.1:{default_port}"),
        ));
    if let Ok(path) = std::env::var(CONFIG_FILE_VAR) {
        figment = figment.merge(Toml::file_exact(path));
    }
    figment.merge(Env::prefixed(ENV_PREFIX).split("__"))
}

/// Extracts and validates settings from an already built figment.
pub fn from_figment(figment: &Figment) -> Result<Settings, ConfigError> {
    let settings: Settings = figment.extract().map_err(ConfigError::from_figment)?;
    settings.validate()?;
    Ok(settings)
}

/// Turns a dotted settings path (`database.url`) into its environment variable name.
pub fn env_name(path: &str) -> String {
    format!(
        "{ENV_PREFIX}{}",
        path.replace('.', "__").to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests;
