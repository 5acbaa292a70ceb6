//! The API contract test: a running service fuzzed from its own OpenAPI
//! document by schemathesis (installed by `scripts/schemathesis`, which
//! `scripts/test` runs). It fails on any server error, any status code the
//! document does not list, any response that breaks its schema, any request
//! the document calls valid that the service rejects and any request the
//! document calls invalid that the service accepts.

use std::path::PathBuf;
use std::process::Stdio;

use anyhow::Context as _;
use tokio::process::Command;

/// Environment variable naming the schemathesis executable (default: the
/// virtualenv `scripts/schemathesis` creates).
pub const SCHEMATHESIS_VAR: &str = "SUITE_SCHEMATHESIS";
/// Environment variable overriding the fuzzer's seed (fixed by default, so
/// that a run is reproducible; vary it to explore further).
pub const SEED_VAR: &str = "SUITE_CONTRACT_SEED";
/// Environment variable overriding the test cases per operation.
pub const EXAMPLES_VAR: &str = "SUITE_CONTRACT_EXAMPLES";

/// Environment variable `schemathesis.toml` reads the lead id of
/// lead-scoped operations from (set by [`fuzz`]).
pub const LEAD_VAR: &str = "SUITE_CONTRACT_LEAD_ID";

const DEFAULT_SEED: &str = "20261206";
const DEFAULT_EXAMPLES: &str = "60";

/// The schemathesis executable: `$SUITE_SCHEMATHESIS`, else the virtualenv
/// under `$XDG_CACHE_HOME` (or `~/.cache`) that `scripts/schemathesis` makes.
pub fn executable() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(SCHEMATHESIS_VAR) {
        return Ok(PathBuf::from(path));
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .context("neither XDG_CACHE_HOME nor HOME is set")?;
    let path = cache.join("suite-stack/schemathesis/bin/schemathesis");
    anyhow::ensure!(
        path.exists(),
        "{} is missing: run `bash scripts/schemathesis` (scripts/test does) or set {SCHEMATHESIS_VAR}",
        path.display()
    );
    Ok(path)
}

/// Fuzzes the service at `base` (e.g. `http://127.0.0.1:PORT`) from its
/// `/openapi.json` with `key` as the bearer key, using the checks and the
/// per-operation settings of `schemathesis.toml` at the workspace root and
/// the hooks of `libs/testkit/schemathesis_hooks.py`.
/// `lead`, when given, is the lead that lead-scoped operations use (engagement's
/// `/v1/leads/{id}/…` and `GET /v1/consent`, see `schemathesis.toml`) so that
/// their 2xx answers are checked too; without it they get a random id (404).
/// Reports (JUnit, NDJSON) go to `report_dir`. Returns the fuzzer's output,
/// or an error holding it when any check failed.
pub async fn fuzz(
    base: &str,
    key: &str,
    lead: Option<uuid::Uuid>,
    report_dir: &std::path::Path,
) -> anyhow::Result<String> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let config = root.join("schemathesis.toml");
    let hooks = root.join("libs/testkit/schemathesis_hooks.py");
    std::fs::create_dir_all(report_dir)?;
    let seed = std::env::var(SEED_VAR).unwrap_or_else(|_| DEFAULT_SEED.into());
    let examples = std::env::var(EXAMPLES_VAR).unwrap_or_else(|_| DEFAULT_EXAMPLES.into());
    let output = Command::new(executable()?)
        .arg("--config-file")
        .arg(&config)
        .arg("run")
        .arg(format!("{base}/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args(["--seed", &seed, "--max-examples", &examples])
        .args(["--generation-database", "none", "--no-color"])
        .args(["--report", "junit,ndjson", "--report-dir"])
        .arg(report_dir)
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env(
            LEAD_VAR,
            lead.unwrap_or_else(uuid::Uuid::new_v4).to_string(),
        )
        .current_dir(report_dir)
        .stdin(Stdio::null())
        .output()
        .await
        .context("run schemathesis")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    anyhow::ensure!(
        output.status.success(),
        "schemathesis found contract violations ({}); reports in {}:\n{text}",
        output.status,
        report_dir.display()
    );
    Ok(text)
}
