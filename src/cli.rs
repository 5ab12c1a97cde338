//! The command line: `serve` (the default), `migrate`, `keys create|list|revoke`, and
//! `export`, `import`, `backup`.
//! A bad setting prints one line naming it and exits with status 2.

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

use crate::clock::{SharedClock, SystemClock};
use crate::config::Config;
use crate::db;
use crate::db::Db;
use crate::db::api_keys::KeyKind;
use crate::domain::ids::ApiKeyId;
use crate::domain::scopes::ScopeSet;
use crate::startup::{Application, db_options, shutdown_signal};
use crate::{keys, telemetry};

#[derive(Parser, Debug)]
#[command(
    name = "openpartner",
    version,
    about = "OpenPartner: a self-hostable partner-program server",
    long_about = "OpenPartner: a self-hostable partner-program server.\n\n\
        Configuration comes from config/default.toml (compiled in), the file named by \
        OPENPARTNER_CONFIG, and environment variables (see README.md). With no subcommand, \
        `serve` runs."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the HTTP server (migrates the database first).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Write every table, from one consistent snapshot, as JSON Lines (gzip when FILE ends
    /// in .gz).
    Export {
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Restore an export into an empty database (either backend), in one transaction.
    Import {
        #[arg(long = "in", value_name = "FILE")]
        input: std::path::PathBuf,
    },
    /// An online, consistent copy of the SQLite database (VACUUM INTO). On PostgreSQL, use
    /// pg_dump.
    Backup {
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// Run the OpenPartner Network simulator (for local demos; point NETWORK_URL at it).
    #[cfg(feature = "simulators")]
    NetworkSim {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:9090")]
        bind: std::net::SocketAddr,
        /// Accept this bearer on /vendors/signup as the hosted-tier admin key.
        #[arg(long, env = "NETWORK_SIM_ADMIN_KEY")]
        admin_key: Option<String>,
    },
    /// Run the Stripe simulator (for local demos; point STRIPE_API_BASE at it).
    #[cfg(feature = "simulators")]
    StripeSim {
        /// Listen address.
        #[arg(long, default_value = "127.0.0.1:12111")]
        bind: std::net::SocketAddr,
        /// The secret key API calls must present (sk_test_...).
        #[arg(long, env = "STRIPE_SIM_SECRET_KEY")]
        secret_key: String,
        /// Where to send webhooks (e.g. http://127.0.0.1:8080/webhooks/stripe).
        #[arg(long, requires = "webhook_secret")]
        webhook_url: Option<String>,
        /// The endpoint secret webhooks are signed with (whsec_...).
        #[arg(long, env = "STRIPE_SIM_WEBHOOK_SECRET", requires = "webhook_url")]
        webhook_secret: Option<String>,
        /// Available platform balance, CURRENCY=MINOR_UNITS (repeatable), e.g. usd=1000000.
        #[arg(long = "balance", value_name = "CURRENCY=AMOUNT", value_parser = parse_balance)]
        balances: Vec<(String, i64)>,
    },
}

#[cfg(feature = "simulators")]
fn parse_balance(raw: &str) -> Result<(String, i64), String> {
    let (currency, amount) = raw
        .split_once('=')
        .ok_or_else(|| "expected CURRENCY=AMOUNT".to_string())?;
    let amount = amount
        .trim()
        .parse::<i64>()
        .map_err(|_| "the amount is integer minor units".to_string())?;
    Ok((currency.trim().to_ascii_lowercase(), amount))
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Mint a key; it is printed once, alone on the last line of stdout.
    Create(CreateKeyArgs),
    /// List keys (never their secrets).
    List,
    /// Revoke a key by id; it fails on the next request.
    Revoke {
        /// The key id, as shown by `keys list`.
        id: String,
    },
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("kind").required(true).args(["admin", "scopes"])))]
struct CreateKeyArgs {
    /// An admin key: full access.
    #[arg(long)]
    admin: bool,
    /// A scoped key with this scope (repeat for several): partners:read, partners:write,
    /// links:read, links:write, commissions:read, clicks:write, events:write.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// A label to recognise the key by.
    #[arg(long)]
    label: Option<String>,
}

/// Parses the command line and runs it. Exit status: 0 ok, 1 failure, 2 bad usage or config.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("openpartner: {e}");
            return ExitCode::from(2);
        }
    };
    let serving = matches!(cli.command, None | Some(Command::Serve));
    let _log_guard = telemetry::init(&config, !serving);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("openpartner: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(config).await,
            Command::Migrate => migrate(config).await,
            Command::Keys(cmd) => keys_command(config, cmd).await,
            Command::Export { out } => export(config, out).await,
            Command::Import { input } => import(config, input).await,
            Command::Backup { out } => backup(config, out).await,
            #[cfg(feature = "simulators")]
            Command::NetworkSim { bind, admin_key } => network_sim(bind, admin_key).await,
            #[cfg(feature = "simulators")]
            Command::StripeSim {
                bind,
                secret_key,
                webhook_url,
                webhook_secret,
                balances,
            } => stripe_sim(bind, secret_key, webhook_url.zip(webhook_secret), balances).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("openpartner: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let app = Application::build(config).await?;
    app.run_until_stopped(shutdown_signal()).await?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "simulators")]
async fn network_sim(
    bind: std::net::SocketAddr,
    admin_key: Option<String>,
) -> anyhow::Result<ExitCode> {
    let sim = crate::network_sim::NetworkSim::start(bind, admin_key).await?;
    println!("OpenPartner Network simulator on {}", sim.url);
    println!(
        "State: {0}/_sim/state  Verification emails: {0}/_sim/verifications",
        sim.url
    );
    shutdown_signal().await;
    Ok(ExitCode::SUCCESS)
}

#[cfg(feature = "simulators")]
async fn stripe_sim(
    bind: std::net::SocketAddr,
    secret_key: String,
    webhook: Option<(String, String)>,
    balances: Vec<(String, i64)>,
) -> anyhow::Result<ExitCode> {
    use crate::stripe_sim::{SimOptions, StripeSim, WebhookTarget};
    let sim = StripeSim::start(
        bind,
        SimOptions {
            secret_key,
            webhook: webhook.map(|(url, secret)| WebhookTarget { url, secret }),
        },
    )
    .await?;
    for (currency, amount) in balances {
        sim.set_balance(&currency, amount);
    }
    println!("Stripe simulator on {}", sim.url);
    println!(
        "State: {0}/_sim/state  Requests: {0}/_sim/requests  Transfers: {0}/_sim/transfers",
        sim.url
    );
    shutdown_signal().await;
    Ok(ExitCode::SUCCESS)
}

async fn migrate(config: Config) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&db_options(&config)).await?;
    db.migrate().await?;
    println!("migrations applied ({:?})", db.backend());
    db.close().await;
    Ok(ExitCode::SUCCESS)
}

async fn export(config: Config, out: std::path::PathBuf) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&db_options(&config)).await?;
    db.migrate().await?;
    let rows = crate::transfer::export(&db, &out).await?;
    db.close().await;
    eprintln!("exported {rows} rows to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

async fn import(config: Config, input: std::path::PathBuf) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&db_options(&config)).await?;
    db.migrate().await?;
    let result = crate::transfer::import(&db, &input).await;
    db.close().await;
    let rows = result?;
    eprintln!("imported {rows} rows from {}", input.display());
    Ok(ExitCode::SUCCESS)
}

async fn backup(config: Config, out: std::path::PathBuf) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&db_options(&config)).await?;
    let result = crate::transfer::backup(&db, &out).await;
    db.close().await;
    result?;
    eprintln!("backed up to {}", out.display());
    Ok(ExitCode::SUCCESS)
}

async fn keys_command(config: Config, cmd: KeysCommand) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&db_options(&config)).await?;
    db.migrate().await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let code = match cmd {
        KeysCommand::Create(args) => {
            let (kind, scopes) = if args.admin {
                (KeyKind::Admin, ScopeSet::default())
            } else {
                match ScopeSet::parse_all(args.scopes.iter().map(String::as_str)) {
                    Ok(s) => (KeyKind::Scoped, s),
                    Err(unknown) => {
                        eprintln!("openpartner: unknown scope(s): {}", unknown.join(", "));
                        return Ok(ExitCode::from(2));
                    }
                }
            };
            let label = args
                .label
                .as_deref()
                .map(str::trim)
                .filter(|l| !l.is_empty());
            let minted = keys::mint(&db, &clock, kind, scopes, None, label).await?;
            println!(
                "Created {} key {} (prefix {}{}). It is shown once; store it now:",
                kind.as_str(),
                minted.row.id,
                minted.row.prefix,
                if scopes.is_empty() {
                    String::new()
                } else {
                    format!(", scopes {}", scopes.to_storage())
                }
            );
            println!("{}", minted.plaintext);
            ExitCode::SUCCESS
        }
        KeysCommand::List => {
            println!(
                "{:<26}  {:<7}  {:<8}  {:<24}  {:<20}  SCOPES / STATE",
                "ID", "KIND", "PREFIX", "CREATED", "LABEL"
            );
            for k in db::api_keys::list(db.pool(), None).await? {
                let state = match k.revoked_at {
                    Some(at) => format!("revoked {at}"),
                    None => k.scopes.to_storage(),
                };
                println!(
                    "{:<26}  {:<7}  {:<8}  {:<24}  {:<20}  {}",
                    k.id,
                    k.kind.as_str(),
                    k.prefix,
                    k.created_at.to_rfc3339(),
                    k.label.unwrap_or_default(),
                    state
                );
            }
            ExitCode::SUCCESS
        }
        KeysCommand::Revoke { id } => {
            if db::api_keys::revoke(&db, &ApiKeyId::from_string(id.clone()), clock.now()).await? {
                println!("Revoked key {id}.");
                ExitCode::SUCCESS
            } else {
                eprintln!("openpartner: no live key with id {id}");
                ExitCode::FAILURE
            }
        }
    };
    db.close().await;
    Ok(code)
}
