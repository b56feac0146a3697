//! `keyward devices`: tokens present at the daemon's readers, through the API
//! (the local PC/SC look without a daemon is `keyward reader`).

use std::io::Write;

use clap::Subcommand;
use serde_json::Value;

use super::common::{cell, segment_path, show, show_list, Connection};

pub const DEVICE_COLUMNS: &[(&str, &str)] = &[
    ("READER", "reader"),
    ("PROFILE", "profile"),
    ("SERIAL", "serial"),
    ("STATE", "state"),
    ("HOLDER", "holder"),
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

pub fn run(command: DevicesCommand, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = conn.client();
    match command {
        DevicesCommand::List => {
            let answer = client.get("/v1/devices")?;
            show_list(out, conn.json, &answer, DEVICE_COLUMNS)
        }
        DevicesCommand::Code { reader } => {
            let answer = client.post(&segment_path(&["v1", "devices", &reader, "code"]), None)?;
            show(out, conn.json, &answer, |out, v| {
                writeln!(out, "{}", cell(v.get("code")))
            })
        }
        DevicesCommand::Events { count } => {
            for (seen, event) in client.events()?.enumerate() {
                let event = event?;
                if conn.json {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"event": event.kind, "data": event.data})
                    )?;
                } else {
                    writeln!(out, "{}", describe(&event.kind, &event.data))?;
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

/// One event as a line a person reads.
pub fn describe(kind: &str, data: &Value) -> String {
    match kind {
        "device" => format!(
            "{} at {}: serial {}, profile {}",
            cell(data.get("kind")),
            cell(data.get("reader")),
            cell(data.get("serial")),
            cell(data.get("profile"))
        ),
        "token" => format!(
            "token {} is now {}",
            cell(data.get("serial")),
            cell(data.get("state"))
        ),
        other => format!("{other}: {data}"),
    }
}
