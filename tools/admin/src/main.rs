//! `suite-admin`: the operator CLI. Reads the same `SUITE__*` settings as the services.

mod demo;
mod kafka;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use suite_http::Scope;
use uuid::Uuid;

#[derive(Parser)]
#[command(name = "suite-admin", about = "Operate the marketing agent suite")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print every configuration key with its effective value (secrets redacted).
    Config,
    /// Apply pending migrations to the primary and create partitions ahead.
    Migrate,
    /// Create every topic of the suite (and its `.dlq` twin) if missing
    /// (names from libs/domain/src/topics.rs; `campaigns.allocations` compacted).
    Topics {
        /// Partitions per topic.
        #[arg(long, default_value_t = 4)]
        partitions: i32,
        /// Only print the topics, one JSON object a line (`name`, `compacted`),
        /// without contacting the broker (deployment checks compare with it).
        #[arg(long)]
        list: bool,
    },
    /// Delete every topic and consumer group whose name starts with a prefix
    /// (test runs, or a shared cluster's `SUITE__KAFKA__TOPIC_PREFIX`).
    PurgeTopics {
        /// Name prefix; must not be empty.
        #[arg(long)]
        prefix: String,
    },
    /// Produce a record to the broker and consume it back (exit 1 if that fails).
    CheckBroker {
        /// Seconds to wait for the record to come back.
        #[arg(long, default_value_t = 20)]
        timeout: u64,
    },
    /// Create a workspace; prints its id.
    CreateWorkspace {
        /// Display name.
        #[arg(long)]
        name: String,
    },
    /// Create an API key; prints the key (shown only once).
    CreateApiKey {
        /// Workspace id.
        #[arg(long)]
        workspace: Uuid,
        /// Display name.
        #[arg(long, default_value = "cli")]
        name: String,
        /// Comma-separated scopes: read, write, admin.
        #[arg(long, default_value = "read,write,admin", value_delimiter = ',')]
        scopes: Vec<String>,
    },
    /// Create the demo workspace and key once and write them to an env file.
    BootstrapDemo {
        /// Env file to write (`DEMO_API_KEY=...`).
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// List the most recent dead letters.
    DeadLetters {
        /// How many to show.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Republish a dead letter to its original topic.
    Replay {
        /// Dead letter id.
        id: i64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let settings = suite_config::load("suite-admin", 0)?;
    match cli.command {
        Command::Config => {
            for (key, value) in settings.flatten() {
                println!("{key}={value}");
            }
        }
        Command::Migrate => {
            let pool = connect(&settings).await?;
            suite_store::MIGRATOR.run(&pool).await.context("migrate")?;
            let created = suite_store::ensure_partitions(&pool, 3).await?;
            println!("migrations applied; {created} partitions created");
        }
        Command::Topics { list: true, .. } => kafka::list(&settings),
        Command::Topics { partitions, .. } => kafka::ensure(&settings, partitions).await?,
        Command::PurgeTopics { prefix } => kafka::purge(&settings, &prefix).await?,
        Command::CheckBroker { timeout } => {
            kafka::check(&settings, std::time::Duration::from_secs(timeout)).await?;
        }
        Command::CreateWorkspace { name } => {
            let pool = connect(&settings).await?;
            let ws = suite_http::tenancy::create_workspace(&pool, &name).await?;
            println!("{}", ws.id);
        }
        Command::CreateApiKey {
            workspace,
            name,
            scopes,
        } => {
            let pool = connect(&settings).await?;
            let scopes = parse_scopes(&scopes)?;
            let key =
                suite_http::tenancy::create_api_key(&pool, workspace, &name, &scopes, None).await?;
            println!("{}", key.key);
        }
        Command::BootstrapDemo { out } => {
            let pool = connect(&settings).await?;
            demo::bootstrap(&pool, &out).await?;
        }
        Command::DeadLetters { limit } => {
            let pool = connect(&settings).await?;
            for dl in suite_bus::dead_letters::list(&pool, limit).await? {
                let line = serde_json::json!({
                    "id": dl.id,
                    "consumer": dl.consumer,
                    "topic": dl.topic,
                    "partition": dl.partition,
                    "offset": dl.offset,
                    "error_class": dl.error_class,
                    "error_message": dl.error_message,
                    "created_at": dl.created_at.to_rfc3339(),
                    "replayed_at": dl.replayed_at.map(|t| t.to_rfc3339()),
                });
                println!("{line}");
            }
        }
        Command::Replay { id } => {
            let pool = connect(&settings).await?;
            let producer = suite_bus::Producer::new(&settings.kafka)?;
            let delivery = suite_bus::dead_letters::replay(&pool, &producer, id).await?;
            println!(
                "replayed to partition {} offset {}",
                delivery.partition, delivery.offset
            );
        }
    }
    Ok(())
}

async fn connect(settings: &suite_config::Settings) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(settings.database.url.expose_secret())
        .await
        .context("connect to the primary (SUITE__DATABASE__URL)")
}

fn parse_scopes(raw: &[String]) -> anyhow::Result<Vec<Scope>> {
    raw.iter()
        .map(|s| Scope::parse(s.trim()).with_context(|| format!("unknown scope `{s}`")))
        .collect()
}
