//! `dutyhook`: serve the incident hub, migrate its database, create admins.

#[cfg(all(target_os = "linux", not(target_env = "musl")))]
mod allocator;
mod config;
mod listen;
mod masked;
mod show_config;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use dutyhook_server::bootstrap::create_admin;
use dutyhook_store::Store;

use crate::config::{DbArgs, ServeArgs};
use crate::masked::masked_url;

#[derive(Parser)]
#[command(
    name = "dutyhook",
    version,
    about = "A self-hosted incident hub: incident webhooks, custom actions, alert webhooks and an Open API.",
    long_about = "A self-hosted incident hub for on-call teams.\n\n\
        Quick start:\n  dutyhook serve                 # SQLite in ./dutyhook.db, http://127.0.0.1:8080\n\
        On an empty database `serve` creates the first admin and prints its login and app key once.\n\n\
        Logs go to stderr; set DUTYHOOK_LOG (e.g. debug, dutyhook_server=trace) to change the level."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP API and background tasks.
    Serve(ServeArgs),
    /// Deliver webhooks and run background roles without the API: add these
    /// beside `serve` processes sharing one PostgreSQL database.
    Worker(config::WorkerArgs),
    /// Apply database migrations and exit.
    Migrate(DbArgs),
    /// Manage administrators.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// A local webhook receiver for development: prints each push (event
    /// type, subject, signature check, duplicate or not) and answers 200.
    Listen(listen::ListenArgs),
    /// Print the configuration `serve` would run with (flags, environment,
    /// --config file, defaults), with where each setting may be given.
    Config(config::ServeArgs),
    /// An online, consistent copy of a SQLite database into a new file
    /// (PostgreSQL: use pg_dump).
    Backup(BackupArgs),
    /// The key that seals secrets in the database.
    #[command(subcommand)]
    SecretKey(SecretKeyCommand),
}

#[derive(Args)]
struct BackupArgs {
    /// The new file to write the copy to (it must not exist).
    #[arg(long)]
    to: std::path::PathBuf,
    #[command(flatten)]
    db: DbArgs,
}

#[derive(Subcommand)]
enum SecretKeyCommand {
    /// Print a new random key (base64) for DUTYHOOK_SECRET_KEY or a key file.
    Generate,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an admin person and an app key; prints one line of JSON
    /// {"person_id","app_key","password"} (shown once).
    Create(AdminCreate),
}

#[derive(Args)]
struct AdminCreate {
    #[arg(long)]
    name: String,
    #[arg(long)]
    email: String,
    /// Make a new, empty SQLite database when none is at the URL (by
    /// default a missing file is refused: it usually means the command
    /// ran in another directory than `serve`).
    #[arg(long)]
    create_database: bool,
    #[command(flatten)]
    db: DbArgs,
}

/// Refuses a SQLite URL whose file does not exist, naming where it looked.
fn existing_database(url: &str) -> Result<(), String> {
    let Some(path) = dutyhook_store::sqlite_path(url) else {
        return Ok(());
    };
    if path.exists() {
        return Ok(());
    }
    let shown = std::path::absolute(&path).unwrap_or(path);
    Err(format!(
        "no database at {} (from {url}): run this where `dutyhook serve` runs, \
         name the serving database with --database or DUTYHOOK_DATABASE_URL, \
         or pass --create-database to make a new, empty one",
        shown.display()
    ))
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DUTYHOOK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr)
        .init();
}

async fn open(url: &str, keys: Option<dutyhook_store::Keyring>) -> Result<Arc<dyn Store>, String> {
    dutyhook_store::open(url, keys)
        .await
        .map_err(|e| format!("cannot open database {}: {e}", masked_url(url)))
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Worker(args) => worker(args).await,
        Command::Migrate(db) => {
            let url = db.resolve()?;
            open(&url, db.keys.keyring(None)?).await?.close().await;
            eprintln!("migrations applied to {}", masked_url(&url));
            Ok(())
        }
        Command::Listen(args) => listen::run(args).await,
        Command::Config(args) => {
            print!("{}", show_config::render(&args.resolve()?));
            Ok(())
        }
        Command::Backup(b) => {
            let url = b.db.resolve()?;
            let bytes = dutyhook_store::backup_sqlite(&url, &b.to)
                .await
                .map_err(|e| format!("backup of {}: {e}", masked_url(&url)))?;
            eprintln!(
                "copied {} to {} ({bytes} bytes)",
                masked_url(&url),
                b.to.display()
            );
            if let Some(key) = dutyhook_store::sqlite_key_path(&url).filter(|k| k.exists()) {
                eprintln!(
                    "the secrets in it are sealed with {}: keep a copy of that file too, apart from the backup",
                    key.display()
                );
            }
            Ok(())
        }
        Command::SecretKey(SecretKeyCommand::Generate) => {
            println!("{}", dutyhook_store::generate_key());
            Ok(())
        }
        Command::Admin(AdminCommand::Create(a)) => {
            let url = a.db.resolve()?;
            if !a.create_database {
                existing_database(&url)?;
            }
            let store = open(&url, a.db.keys.keyring(None)?).await?;
            let cfg = config::server_config_defaults();
            let state = dutyhook_server::state(store.clone(), &cfg)
                .await
                .map_err(|e| e.to_string())?;
            let (created, _) = create_admin(&state, &a.name, &a.email)
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::to_string(&created).map_err(|e| e.to_string())?
            );
            store.close().await;
            Ok(())
        }
    }
}

/// A service is often started with a soft limit of 1,024 open files: a few
/// hundred idle clients away from refusing every connection. The hard limit
/// is what the administrator allows; take it.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => tracing::debug!(limit = n, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    raise_open_file_limit();
    let resolved = args.resolve()?;
    let store = open(&resolved.database_url, resolved.keys.clone()).await?;
    let state = dutyhook_server::state(store.clone(), &resolved.server)
        .await
        .map_err(|e| e.to_string())?;
    if store.count_people().await.map_err(|e| e.to_string())? == 0 {
        let (created, email) = create_admin(&state, "Admin", "admin@dutyhook.local")
            .await
            .map_err(|e| e.to_string())?;
        println!("First start: created the admin. Shown once — keep them safe.");
        println!("  console login: {email}");
        println!("  password:      {}", created.password);
        println!("  app key:       {}", created.app_key);
    }
    let listener = tokio::net::TcpListener::bind(&resolved.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", resolved.listen))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "dutyhook {} listening on http://{addr} (database {})",
        env!("CARGO_PKG_VERSION"),
        masked_url(&resolved.database_url)
    );
    tracing::info!(%addr, public_url = %resolved.server.public_url, "serving");
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    dutyhook_server::serve(listener, state, resolved.server, rx)
        .await
        .map_err(|e| e.to_string())?;
    store.close().await;
    Ok(())
}

async fn worker(args: config::WorkerArgs) -> Result<(), String> {
    raise_open_file_limit();
    let resolved = args.serve_args().resolve()?;
    let store = open(&resolved.database_url, resolved.keys.clone()).await?;
    if store.owned_by_this_process() {
        store.close().await;
        return Err(format!(
            "a worker needs PostgreSQL: {} is SQLite, which one `serve` process owns and delivers from",
            masked_url(&resolved.database_url)
        ));
    }
    let runtime = dutyhook_server::runtime::Runtime::new(store.clone(), &resolved.server);
    println!(
        "dutyhook {} worker running (database {})",
        env!("CARGO_PKG_VERSION"),
        masked_url(&resolved.database_url)
    );
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = tx.send(true);
    });
    dutyhook_server::background::run(runtime, rx).await;
    store.close().await;
    Ok(())
}

/// Stops on SIGTERM or Ctrl-C: no new claims, pushes in flight get the grace
/// period, the rest is given back.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dutyhook: {e}");
            ExitCode::FAILURE
        }
    }
}
