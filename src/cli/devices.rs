//! `keyward devices`: tokens present at the daemon's readers, through the API
//! (the local PC/SC look without a daemon is `keyward reader`).

use std::io::Write;

use super::common::{or_dash, show, show_list, word, Column, DaemonCommand};
use crate::client::{Client, Event};
use crate::wire::devices::DeviceEntry;
use crate::wire::events::{DeviceEvent, ServerEvent};
use clap::Subcommand;

pub const DEVICE_COLUMNS: &[Column<'static, DeviceEntry>] = &[
    ("col-reader", |d| d.reader.clone()),
    ("col-profile", |d| or_dash(d.profile.as_ref())),
    ("col-serial", |d| or_dash(d.serial.as_ref())),
    ("col-state", |d| {
        or_dash(d.state.map(|s| word("state", s.as_str())))
    }),
    ("col-holder", |d| or_dash(d.holder.as_ref())),
];

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// Tokens present at the readers, with their keyward state and holder.
    #[command(after_help = "Example:\n  keyward devices list")]
    List,
    /// Reads a code from the token at READER (desk support; the walk-through).
    #[command(after_help = "Example:\n  keyward devices code \"Virtual PCD 00 00\"")]
    Code { reader: String },
    /// Prints device insertions, removals and token state changes as they
    /// happen (until interrupted, or after --count events).
    #[command(after_help = "Example:\n  keyward devices events --count 1")]
    Events {
        #[arg(long)]
        count: Option<usize>,
    },
}

impl DaemonCommand for DevicesCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            DevicesCommand::List => {
                let answer = client.devices()?;
                show_list(out, json, &answer, DEVICE_COLUMNS)
            }
            DevicesCommand::Code { reader } => {
                let answer = client.device_code(&reader)?;
                show(out, json, &answer, |out, v| writeln!(out, "{}", v.code))
            }
            DevicesCommand::Events { count } => {
                for (seen, event) in client.events()?.enumerate() {
                    let event = event?;
                    if json {
                        writeln!(
                            out,
                            "{}",
                            serde_json::json!({"event": event.kind, "data": event.data})
                        )?;
                    } else {
                        writeln!(out, "{}", describe(&event))?;
                    }
                    out.flush()?;
                    if count.is_some_and(|c| seen + 1 >= c) {
                        break;
                    }
                }
                Ok(())
            }
        }
    }
}

/// One event as a line a person reads.
pub fn describe(event: &Event) -> String {
    match event.decode() {
        Some(ServerEvent::Device(DeviceEvent::Inserted {
            reader,
            serial,
            profile,
        })) => t!(
            "event-inserted",
            reader = reader,
            serial = or_dash(serial),
            profile = or_dash(profile)
        ),
        Some(ServerEvent::Device(DeviceEvent::Removed { reader })) => {
            t!("event-removed", reader = reader)
        }
        Some(ServerEvent::Token(token)) => {
            let state = word("state", token.state.as_str());
            t!("event-token", serial = token.serial, state = state)
        }
        None => format!("{}: {}", event.kind, event.data),
    }
}
