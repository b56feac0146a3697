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
    let pcsc = Pcsc::establish().with_context(|| t!("reader-connecting"))?;
    match command {
        ReaderCommand::Readers => {
            for r in pcsc.readers()? {
                writeln!(out, "{r}")?;
            }
        }
        ReaderCommand::Watch { seconds } => {
            let deadline = seconds.map(|s| Instant::now() + Duration::from_secs(s));
            let profiles = profile::builtin()?;
            let identifier = Pcsc::establish().with_context(|| t!("reader-connecting"))?;
            let mut watcher = Watcher::new(pcsc);
            loop {
                for event in watcher.poll(Duration::from_millis(500))? {
                    let line = match event {
                        ReaderEvent::ReaderAdded { reader } => t!("reader-added", reader = reader),
                        ReaderEvent::ReaderRemoved { reader } => {
                            t!("reader-removed", reader = reader)
                        }
                        ReaderEvent::Inserted { reader, atr } => {
                            let who = match identifier
                                .connect(&reader)
                                .and_then(|t| Token::new(t).identify(&profiles))
                            {
                                Ok(id) => t!(
                                    "reader-identified",
                                    profile = id.profile.unwrap_or_else(|| t!("unknown")),
                                    serial =
                                        id.serial.map_or_else(|| t!("unknown"), |s| s.to_string())
                                ),
                                Err(err) => t!("reader-not-identified", error = err.to_string()),
                            };
                            let atr = data_encoding::HEXUPPER.encode(&atr);
                            t!("reader-inserted", reader = reader, atr = atr, who = who)
                        }
                        ReaderEvent::Removed { reader } => {
                            t!("reader-token-removed", reader = reader)
                        }
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
            let unknown = t!("unknown");
            let profile = id.profile.clone().unwrap_or_else(|| unknown.clone());
            let serial = id.serial.map_or(unknown, |s| s.to_string());
            let credentials = match (id.credentials, id.free_slots) {
                (None, _) => t!("reader-credentials-locked"),
                (Some(n), Some(free)) => t!("reader-credentials-free", count = n, free = free),
                (Some(n), None) => n.to_string(),
            };
            let lines = [
                t!("reader-info-reader", value = id.reader.clone()),
                t!("reader-info-profile", value = profile),
                t!("reader-info-serial", value = serial),
                t!("reader-info-version", value = format!("{a}.{b}.{c}")),
                t!("reader-info-device", value = id.device_id.to_string()),
                t!("reader-info-credentials", value = credentials),
            ];
            for line in lines {
                writeln!(out, "{line}")?;
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
