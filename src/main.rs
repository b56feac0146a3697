#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("keyward: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> anyhow::Result<()> {
    let cli = keyward::cli::Cli::parse();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    keyward::cli::run(cli, &mut out)
}
