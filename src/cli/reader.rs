//! `keyward reader`: look at tokens through PC/SC on this machine, without the
//! daemon (readers, hot-plug, identity,
//! credentials). Writing secrets belongs to the desk workflows, which record
//! them in the store first; this command only reads.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Subcommand;

use crate::oath::driver::pcsc::Pcsc;
use crate::oath::driver::watch::{ReaderEvent, Watcher};
use crate::oath::driver::Token;
use crate::profile;

#[derive(Debug, Subcommand)]
pub enum ReaderCommand {
    /// List PC/SC readers.
    Readers,
    /// Report token insertion and removal at every reader, identifying each
    /// inserted token (profile, serial).
    Watch {
        /// Stop after this many seconds [default: run until killed].
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Identify the token in a reader: profile, serial, version, free slots.
    Info {
        #[arg(long)]
        reader: String,
    },
    /// List the credentials on the token in a reader.
    List {
        #[arg(long)]
        reader: String,
    },
}

pub fn run(command: ReaderCommand, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let pcsc = Pcsc::establish().context("connecting to pcscd")?;
    match command {
        ReaderCommand::Readers => {
            for r in pcsc.readers()? {
                writeln!(out, "{r}")?;
            }
        }
        ReaderCommand::Watch { seconds } => {
            let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
            let profiles = profile::builtin()?;
            let identifier = Pcsc::establish().context("connecting to pcscd")?;
            let mut watcher = Watcher::new(pcsc);
            loop {
                for event in watcher.poll(Duration::from_millis(500))? {
                    let line = match event {
                        ReaderEvent::ReaderAdded { reader } => format!("reader added: {reader}"),
                        ReaderEvent::ReaderRemoved { reader } => {
                            format!("reader removed: {reader}")
                        }
                        ReaderEvent::Inserted { reader, atr } => {
                            let who = match identifier
                                .connect(&reader)
                                .and_then(|t| Token::new(t).identify(&profiles))
                            {
                                Ok(id) => format!(
                                    "profile {}, serial {}",
                                    id.profile.as_deref().unwrap_or("unknown"),
                                    id.serial.map_or("unknown".to_owned(), |s| s.to_string())
                                ),
                                Err(err) => format!("not identified: {err}"),
                            };
                            format!(
                                "inserted: {reader} (ATR {}; {who})",
                                data_encoding::HEXUPPER.encode(&atr)
                            )
                        }
                        ReaderEvent::Removed { reader } => format!("removed: {reader}"),
                    };
                    writeln!(out, "{line}")?;
                    out.flush()?;
                }
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
            }
        }
        ReaderCommand::Info { reader } => {
            let profiles = profile::builtin()?;
            let mut token = Token::new(pcsc.connect(&reader)?);
            let id = token.identify(&profiles)?;
            let [a, b, c] = id.version;
            writeln!(out, "reader: {}", id.reader)?;
            writeln!(
                out,
                "profile: {}",
                id.profile.as_deref().unwrap_or("unknown")
            )?;
            match id.serial {
                Some(s) => writeln!(out, "serial: {s}")?,
                None => writeln!(out, "serial: unknown")?,
            }
            writeln!(out, "OATH version: {a}.{b}.{c}")?;
            writeln!(out, "device id: {}", id.device_id)?;
            match (id.credentials, id.free_slots) {
                (None, _) => writeln!(out, "credentials: locked by an access code")?,
                (Some(n), Some(free)) => writeln!(out, "credentials: {n} ({free} slots free)")?,
                (Some(n), None) => writeln!(out, "credentials: {n}")?,
            }
        }
        ReaderCommand::List { reader } => {
            let mut token = Token::new(pcsc.connect(&reader)?);
            for entry in token.list()? {
                writeln!(
                    out,
                    "{}\t{:?}\t{}",
                    String::from_utf8_lossy(&entry.name),
                    entry.kind,
                    entry.algorithm
                )?;
            }
        }
    }
    Ok(())
}
