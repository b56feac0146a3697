//! Command-line front end: argument parsing and wiring only.

pub mod audit;
pub mod init;
pub mod otp;
pub mod receipt;
pub mod serve;
pub mod sim;
pub mod token;

use clap::{Parser, Subcommand};

/// keyward manages personal OTP hardware tokens and verifies their codes.
#[derive(Debug, Parser)]
#[command(name = "keyward", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Offline HOTP/TOTP calculator (prints codes exactly as oathtool does).
    #[command(subcommand)]
    Otp(otp::OtpCommand),
    /// Signed handover and return receipts.
    #[command(subcommand)]
    Receipt(receipt::ReceiptCommand),
    /// The hash-chained audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Virtual token: a YKOATH card served through pcscd's vpcd reader.
    Sim(sim::SimArgs),
    /// Look at tokens through PC/SC: readers, hot-plug, identity, credentials.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Create a data directory and print the first admin API key (once).
    Init(init::InitArgs),
    /// Run the daemon: HTTP API, device watcher, virtual token.
    Serve(serve::ServeArgs),
}

/// Runs a parsed command line, writing results to `out`.
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    match cli.command {
        Command::Otp(command) => otp::run(command, out),
        Command::Receipt(command) => receipt::run(command, out),
        Command::Audit(command) => audit::run(command, out),
        Command::Sim(args) => sim::run(args, out),
        Command::Token(command) => token::run(command, out),
        Command::Init(args) => init::run(args, out),
        Command::Serve(args) => serve::run(args, out),
    }
}
