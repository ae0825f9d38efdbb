//! The `relais` command.

use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use relais_server::admin::{self, BackupArgs, CompactArgs, DoctorArgs, RestoreArgs, Status};
use relais_server::config::{Config, LogFormat, ServeArgs};
use relais_server::directory_cli::{
    self, AuditExportArgs, AuditVerifyArgs, TokenCreateArgs, TokenRevokeArgs, UserCreateArgs, VerifyArgs,
    ThinVersionsArgs,
};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Relais: a real-time collaborative document server speaking the y-websocket protocol.
#[derive(Parser)]
#[command(name = "relais", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// The last occurrence of a setting wins, so wrappers can append overrides.
#[derive(Subcommand)]
enum Command {
    /// Serve documents over websockets, and the web client over HTTP.
    #[command(args_override_self = true)]
    Serve(ServeArgs),
    /// Copy the whole database (documents, directory, chat) and the blobs it references to an
    /// empty directory or bucket.
    ///
    /// The rows are read in one read transaction and the blobs they reference are copied with
    /// their sha256 checked, so the copy is consistent even while servers run. It takes the
    /// same storage settings as `relais serve`; the database schema must be current.
    #[command(args_override_self = true)]
    Backup(BackupArgs),
    /// Restore a backup into an empty database and object store.
    ///
    /// The target must hold no document, no directory row and no object (a new Postgres schema or SQLite file,
    /// an empty bucket or directory); the schema is created. The whole backup is checked
    /// before anything is written. No server should use the target until the restore ends.
    #[command(args_override_self = true)]
    Restore(RestoreArgs),
    /// Check the configuration, the database, the object store, the bus and the clock.
    ///
    /// Prints one line per check (ok, warn, skip or FAIL) and exits 1 if any check fails.
    #[command(args_override_self = true)]
    Doctor(DoctorArgs),
    /// Maintain stored documents.
    #[command(subcommand)]
    Documents(DocumentsCommand),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Mint and revoke websocket tokens for programs and integrations.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Check and export the audit journal.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Tell whether a file is exactly an approved (sealed) version: its stored state or an
    /// export of it made by this server. Exits 0 naming the version, 1 otherwise.
    #[command(args_override_self = true)]
    Verify(VerifyArgs),
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account, e.g. the first administrator before the first start.
    #[command(args_override_self = true)]
    Create(UserCreateArgs),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Mint a token giving a role on a document (or documents by prefix) until it expires;
    /// prints it once. Pass it as `?token=` or `Authorization: Bearer`.
    #[command(args_override_self = true)]
    Create(TokenCreateArgs),
    /// Revoke a token; connections using it close within a second.
    #[command(args_override_self = true)]
    Revoke(TokenRevokeArgs),
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Recompute the journal's hash chain; exits 1 naming the first altered entry.
    #[command(args_override_self = true)]
    Verify(AuditVerifyArgs),
    /// Write journal entries as JSON lines.
    #[command(args_override_self = true)]
    Export(AuditExportArgs),
}

#[derive(Subcommand)]
enum DocumentsCommand {
    /// Snapshot documents now and prune their update logs.
    ///
    /// Each document is rebuilt from its latest snapshot and its log and written as a new
    /// snapshot at the last update read; the updates it covers are deleted. Safe while servers
    /// run: updates appended meanwhile stay in the log.
    #[command(args_override_self = true)]
    Compact(CompactArgs),
    /// Thin old automatic versions now (servers do it every hour): all of the last day, one
    /// per hour for a month, one per day after. Named, submitted, restore and approved
    /// versions are kept.
    #[command(args_override_self = true)]
    ThinVersions(ThinVersionsArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::from_arg_matches(&command().get_matches()) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    match cli.command {
        Command::Serve(args) => {
            let Some(config) = config_or_exit(args) else {
                return ExitCode::from(2);
            };
            init_logging(&config.log, config.log_format);
            let Some(runtime) = runtime() else {
                return ExitCode::FAILURE;
            };
            let shutdown = CancellationToken::new();
            runtime.spawn(cancel_on_signal(shutdown.clone()));
            match runtime.block_on(relais_server::serve(config, shutdown)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("relais: {error:#}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Backup(args) => run_admin(args.settings, |config| async move {
            admin::backup(&config, &args.to).await.map(drop)
        }),
        Command::Restore(args) => run_admin(args.settings, |config| async move {
            admin::restore(&config, &args.from).await.map(drop)
        }),
        Command::Documents(DocumentsCommand::Compact(args)) => {
            run_admin(args.settings, |config| async move {
                admin::compact(&config, args.document.as_deref())
                    .await
                    .map(drop)
            })
        }
        Command::Documents(DocumentsCommand::ThinVersions(args)) => run_directory(args.settings.clone(), |config| async move {
            directory_cli::thin_versions(&config, args).await
        }),
        Command::User(UserCommand::Create(args)) => run_directory(args.settings.clone(), |config| async move {
            directory_cli::user_create(&config, args).await
        }),
        Command::Token(TokenCommand::Create(args)) => run_directory(args.settings.clone(), |config| async move {
            directory_cli::token_create(&config, args).await
        }),
        Command::Token(TokenCommand::Revoke(args)) => run_directory(args.settings.clone(), |config| async move {
            directory_cli::token_revoke(&config, args).await
        }),
        Command::Audit(AuditCommand::Verify(args)) => run_directory(args.settings, |config| async move {
            directory_cli::audit_verify(&config).await
        }),
        Command::Audit(AuditCommand::Export(args)) => run_directory(args.settings.clone(), |config| async move {
            directory_cli::audit_export(&config, args).await
        }),
        Command::Verify(args) => run_directory(args.settings.clone(), |config| async move {
            directory_cli::verify(&config, args).await
        }),
        Command::Doctor(args) => {
            let config_file = args.settings.config.clone();
            let config = args.settings.into_config();
            // The report goes to stdout; the bus client's own connection chatter would only
            // interleave with it on a terminal.
            match &config {
                Ok(config) => init_logging(
                    &format!("{},async_nats=warn", config.log),
                    config.log_format,
                ),
                Err(_) => init_logging("warn", LogFormat::Text),
            }
            let Some(runtime) = runtime() else {
                return ExitCode::FAILURE;
            };
            let checks = runtime.block_on(admin::doctor(config, config_file.as_deref()));
            if checks.iter().any(|check| check.status == Status::Fail) {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}

/// The command line, with the settings a maintenance command does not use hidden from its
/// help (they are still accepted, so that one configuration serves every command).
fn command() -> clap::Command {
    let settings: Vec<String> = ServeArgs::augment_args(clap::Command::new("settings"))
        .get_arguments()
        .map(|argument| argument.get_id().to_string())
        .collect();
    let hide_unused = |used: &'static [&'static str]| {
        let settings = settings.clone();
        move |mut command: clap::Command| {
            for id in settings.iter().filter(|id| !used.contains(&id.as_str())) {
                command = command.mut_arg(id, |argument| argument.hide(true));
            }
            command
        }
    };
    const DOCTOR_SETTINGS: &[&str] = &[
        "config",
        "data_dir",
        "database_url",
        "object_store",
        "bus_url",
        "database_max_connections",
        "log",
        "log_format",
    ];
    Cli::command()
        .mut_subcommand("backup", hide_unused(admin::STORAGE_SETTINGS))
        .mut_subcommand("restore", hide_unused(admin::STORAGE_SETTINGS))
        .mut_subcommand("doctor", hide_unused(DOCTOR_SETTINGS))
        .mut_subcommand("documents", |documents| {
            documents.mut_subcommand("compact", hide_unused(admin::STORAGE_SETTINGS))
        })
        .mut_subcommand("user", |user| user.mut_subcommand("create", hide_unused(admin::STORAGE_SETTINGS)))
        .mut_subcommand("token", |token| {
            token
                .mut_subcommand("create", hide_unused(admin::STORAGE_SETTINGS))
                .mut_subcommand("revoke", hide_unused(admin::STORAGE_SETTINGS))
        })
        .mut_subcommand("audit", |audit| {
            audit
                .mut_subcommand("verify", hide_unused(admin::STORAGE_SETTINGS))
                .mut_subcommand("export", hide_unused(admin::STORAGE_SETTINGS))
        })
}

fn config_or_exit(args: ServeArgs) -> Option<Config> {
    match args.into_config() {
        Ok(config) => Some(config),
        Err(error) => {
            eprintln!("relais: {error}");
            None
        }
    }
}

fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("relais: cannot start the runtime: {error}");
            None
        }
    }
}

/// Runs a maintenance command: configuration as for `serve` (exit 2 if invalid), then the
/// command; its error is printed with its causes on one line.
fn run_admin<F, Fut>(settings: ServeArgs, command: F) -> ExitCode
where
    F: FnOnce(Config) -> Fut,
    Fut: std::future::Future<Output = Result<(), admin::AdminError>>,
{
    let Some(config) = config_or_exit(settings) else {
        return ExitCode::from(2);
    };
    init_logging(&config.log, config.log_format);
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(command(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relais: {}", admin::error_chain(&error));
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs a directory command like [`run_admin`]; logs stay quiet unless asked for, so that
/// stdout holds only the command's output (a token, a report, JSON lines).
fn run_directory<F, Fut>(settings: ServeArgs, command: F) -> ExitCode
where
    F: FnOnce(Config) -> Fut,
    Fut: std::future::Future<Output = Result<(), directory_cli::DirectoryCliError>>,
{
    let Some(config) = config_or_exit(settings) else {
        return ExitCode::from(2);
    };
    let filter = if config.log == "info" { "warn" } else { config.log.as_str() };
    init_logging(filter, config.log_format);
    let Some(runtime) = runtime() else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(command(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("relais: {}", admin::error_chain(&error));
            ExitCode::from(error.exit_code())
        }
    }
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|error| {
        eprintln!("relais: invalid log filter ({error}); using info");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn cancel_on_signal(shutdown: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        () = terminate => {}
    }
    tracing::info!("signal received; stopping");
    shutdown.cancel();
}
