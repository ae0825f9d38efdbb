//! The `relais` command.

use clap::{Parser, Subcommand};
use relais_server::config::{LogFormat, ServeArgs};
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

/// Relais: a real-time collaborative document server speaking the y-websocket protocol.
#[derive(Parser)]
#[command(name = "relais", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve documents over websockets, and the web client over HTTP.
    // The last occurrence of a setting wins, so wrappers can append overrides.
    #[command(args_override_self = true)]
    Serve(ServeArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = match args.into_config() {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("relais: {error}");
                    return std::process::ExitCode::from(2);
                }
            };
            init_logging(&config.log, config.log_format);
            let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("relais: cannot start the runtime: {error}");
                    return std::process::ExitCode::FAILURE;
                }
            };
            let shutdown = CancellationToken::new();
            runtime.spawn(cancel_on_signal(shutdown.clone()));
            match runtime.block_on(relais_server::serve(config, shutdown)) {
                Ok(()) => std::process::ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("relais: {error:#}");
                    std::process::ExitCode::FAILURE
                }
            }
        }
    }
}

fn init_logging(filter: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|error| {
        eprintln!("relais: invalid log filter ({error}); using info");
        EnvFilter::new("info")
    });
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
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
