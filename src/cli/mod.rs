//! Command-line front end: argument parsing and wiring only.
//!
//! Local commands work without the daemon (`otp`, `sim`, `reader`, `receipts
//! verify|public-key`, `audit verify --data-dir`); the nouns talk to `keyward
//! serve` through [`crate::client`] (`KEYWARD_URL`, `KEYWARD_API_KEY`).
//! Exit codes are listed in [`common`].
//!
//! Every text a person reads comes from the message catalogue
//! ([`crate::i18n`]) through `t!("id", name = value)`, in the language of
//! `--lang`/`KEYWARD_LANG` (French by default).

use std::sync::atomic::{AtomicU8, Ordering};

use crate::i18n::Lang;

/// A message of the catalogue in the command line's language (`--lang`):
/// `t!("token-prepared", serial = serial, holder = holder)`.
macro_rules! t {
    ($($rest:tt)*) => {
        $crate::tr!($crate::cli::lang(), $($rest)*)
    };
}

pub mod apikeys;
pub mod audit;
pub mod backup;
pub mod bench;
pub mod common;
pub mod data_dir;
pub mod devices;
pub mod directory;
pub mod doctor;
pub mod emergency;
pub mod init;
pub mod mail;
pub mod manpages;
pub mod otp;
pub mod people;
pub mod prompt;
pub mod reader;
pub mod receipts;
pub mod reports;
pub mod requests;
pub mod rights;
pub mod seeded;
pub mod serve;
mod serve_postgres;
pub mod sim;
pub mod station;
mod station_pin;
pub mod store_copy;
pub mod tokens;
pub mod touch;
pub mod verify;

use clap::{Parser, Subcommand};

use common::DaemonCommand;
pub use common::{error_text, exit_code, Exit};

/// keyward manages personal OTP hardware tokens and verifies their codes.
#[derive(Debug, Parser)]
#[command(
    name = "keyward",
    version,
    about,
    long_about = None,
    after_help = "Talking to the daemon: set KEYWARD_URL (default http://127.0.0.1:7390) and\nKEYWARD_API_KEY, then e.g.\n  keyward devices list\n  keyward tokens prepare --reader \"Virtual PCD 00 00\" --holder adurand\n  keyward verify --login adurand"
)]
pub struct Cli {
    #[command(flatten)]
    pub connection: common::Connection,
    /// Language of what keyward prints: fr or en.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "KEYWARD_LANG",
        hide_env_values = true,
        default_value_t = Lang::Fr
    )]
    pub lang: Lang,
    #[command(subcommand)]
    pub command: KeywardCommand,
}

/// The `keyward <command>` level (named apart from `apdu::Command`).
#[derive(Debug, Subcommand)]
pub enum KeywardCommand {
    /// People: directors, deputies, inspectors.
    #[command(subcommand)]
    People(people::PeopleCommand),
    /// Districts (circonscriptions) and their inspectors.
    #[command(subcommand)]
    Districts(people::DistrictsCommand),
    /// Schools, by official code (UAI).
    #[command(subcommand)]
    Schools(people::SchoolsCommand),
    /// Director rights: appointments and delegations.
    #[command(subcommand)]
    Rights(rights::RightsCommand),
    /// Keys: prepare (one or a batch), hand over, return, receive, wipe,
    /// restock, unlock, resync, revoke.
    #[command(subcommand)]
    Tokens(tokens::TokensCommand),
    /// Tokens present at the daemon's readers, codes, live events.
    #[command(subcommand)]
    Devices(devices::DevicesCommand),
    /// Key requests from inspectors to the desk.
    #[command(subcommand, name = "key-requests")]
    KeyRequests(requests::KeyRequestsCommand),
    /// Replacement (help) requests for broken, lost or stolen keys.
    #[command(subcommand)]
    Replacements(requests::ReplacementsCommand),
    /// Help requests read from mail: one message from the mail system.
    #[command(subcommand)]
    Mail(mail::MailCommand),
    /// Emergency access while a key is replaced: one-time codes or a
    /// software token for at most 10 days.
    #[command(subcommand)]
    Emergency(emergency::EmergencyCommand),
    /// Signed handover and return receipts.
    #[command(subcommand, alias = "receipt")]
    Receipts(receipts::ReceiptCommand),
    /// Overdue returns and keys in transit, per district.
    #[command(subcommand)]
    Reports(reports::ReportsCommand),
    /// The hash-chained audit trail.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// API keys and roles (admin).
    #[command(subcommand)]
    Apikeys(apikeys::ApiKeysCommand),
    /// Checks a holder's PIN followed by a one-time code, as the gateway does.
    Verify(verify::VerifyArgs),
    /// The handover station: the holder activates their key with a PIN.
    Station(station::StationArgs),
    /// The academic directory (LDAP) sync: people, schools, districts,
    /// appointments and delegations.
    #[command(subcommand)]
    Directory(directory::DirectoryCommand),
    /// Verify load generator against a running daemon, and its setup.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Offline HOTP/TOTP calculator (prints codes exactly as oathtool does).
    #[command(subcommand)]
    Otp(otp::OtpCommand),
    /// Virtual token: a YKOATH card served through pcscd's vpcd reader.
    Sim(sim::SimArgs),
    /// Look at tokens through PC/SC on this machine, without the daemon:
    /// readers, hot-plug, identity, credentials.
    #[command(subcommand)]
    Reader(reader::ReaderCommand),
    /// Create a data directory and print the first admin API key (once).
    Init(init::InitArgs),
    /// Run the daemon: HTTP API, device watcher, virtual token.
    Serve(serve::ServeArgs),
    /// Encrypted, consistent backup of a data directory (daemon running or not).
    Backup(backup::BackupArgs),
    /// The store itself: copy it to PostgreSQL (docs/postgres.md).
    #[command(subcommand)]
    Store(store_copy::StoreCommand),
    /// Restore a backup into a stopped daemon's data directory; no code used
    /// since the backup can be accepted again.
    Restore(backup::RestoreArgs),
    /// Check an installation: files, master key, database, audit, pcscd,
    /// readers, configuration, certificates, connections.
    Doctor(doctor::DoctorArgs),
    /// Write the man pages (one per command) into DIR.
    #[command(hide = true)]
    Manpages(manpages::ManpagesArgs),
    /// Write shell completions (bash, zsh, fish) into DIR.
    #[command(hide = true)]
    Completions(manpages::CompletionsArgs),
}

/// Runs a parsed command line, writing results to `out`.
pub fn run(cli: Cli, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    set_lang(cli.lang);
    let conn = &cli.connection;
    match cli.command {
        KeywardCommand::People(c) => c.run(conn, out),
        KeywardCommand::Districts(c) => c.run(conn, out),
        KeywardCommand::Schools(c) => c.run(conn, out),
        KeywardCommand::Rights(c) => c.run(conn, out),
        KeywardCommand::Tokens(c) => c.run(conn, out),
        KeywardCommand::Devices(c) => c.run(conn, out),
        KeywardCommand::KeyRequests(c) => c.run(conn, out),
        KeywardCommand::Replacements(c) => c.run(conn, out),
        KeywardCommand::Mail(c) => c.run(conn, out),
        KeywardCommand::Emergency(c) => c.run(conn, out),
        KeywardCommand::Receipts(c) => receipts::run(c, conn, out),
        KeywardCommand::Reports(c) => c.run(conn, out),
        KeywardCommand::Audit(c) => audit::run(c, conn, out),
        KeywardCommand::Apikeys(c) => c.run(conn, out),
        KeywardCommand::Verify(a) => verify::run(a, conn, out),
        KeywardCommand::Station(a) => station::run(a, conn, out),
        KeywardCommand::Directory(c) => c.run(conn, out),
        KeywardCommand::Bench(c) => bench::run(c, conn, out),
        KeywardCommand::Otp(command) => otp::run(command, out),
        KeywardCommand::Sim(args) => sim::run(args, out),
        KeywardCommand::Reader(command) => reader::run(command, out),
        // `--json` is the global flag of every command.
        KeywardCommand::Init(args) => init::run(args, conn.json, out),
        KeywardCommand::Serve(args) => serve::run(args, out),
        KeywardCommand::Backup(args) => backup::backup(args, out),
        KeywardCommand::Restore(args) => backup::restore(args, out),
        KeywardCommand::Store(command) => store_copy::run(command, out),
        KeywardCommand::Doctor(args) => doctor::run(args, out),
        KeywardCommand::Manpages(args) => manpages::man(args, out),
        KeywardCommand::Completions(args) => manpages::completions(args, out),
    }
}

/// The command line's language, chosen once by [`run`] (one process, one
/// reader: a global rather than a parameter through every printing path).
static LANG: AtomicU8 = AtomicU8::new(0);

/// Sets the language of everything the command line prints.
pub fn set_lang(lang: Lang) {
    LANG.store(
        match lang {
            Lang::Fr => 0,
            Lang::En => 1,
        },
        Ordering::Relaxed,
    );
}

/// The language of everything the command line prints.
pub fn lang() -> Lang {
    match LANG.load(Ordering::Relaxed) {
        1 => Lang::En,
        _ => Lang::Fr,
    }
}
