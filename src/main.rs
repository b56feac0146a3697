#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = keyward::cli::exit_code(&err);
            // `Exit` means the command already said what happened (e.g. reject).
            if err.downcast_ref::<keyward::cli::Exit>().is_none() {
                eprintln!("{}", keyward::cli::error_text(&err));
            }
            ExitCode::from(code)
        }
    }
}

fn try_main() -> anyhow::Result<()> {
    init_logging();
    let cli = keyward::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    keyward::cli::run(cli, &mut out)
}

/// RUST_LOG=trace shows every APDU (secret fields masked), on stderr. Under
/// systemd (stderr connected to the journal, `JOURNAL_STREAM` set) events
/// go to the journal with their fields as structured journal fields
/// (`journalctl -u keyward -o verbose`).
fn init_logging() {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::from_default_env();
    let journal = std::env::var_os("JOURNAL_STREAM")
        .and_then(|_| tracing_journald::layer().ok())
        .map(|layer| layer.with_syslog_identifier("keyward".to_owned()));
    match journal {
        Some(journal) => tracing_subscriber::registry()
            .with(filter)
            .with(journal)
            .init(),
        None => tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init(),
    }
}
