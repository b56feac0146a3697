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
    // RUST_LOG=trace shows every APDU (secret fields masked), on stderr.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = keyward::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    keyward::cli::run(cli, &mut out)
}
