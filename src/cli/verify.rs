//! `keyward verify --login L`: asks the daemon whether PIN+code is right for
//! this person now, as the gateway does (support and scripts).

use std::io::Write;

use clap::Args;
use serde_json::json;

use super::common::{cell, Connection, Exit};
use super::prompt::Prompter;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyward verify --login adurand                 # prompts for PIN followed by the code, hidden\n  printf '%s\\n' \"$PASSCODE\" | keyward verify --login adurand --json\n\nExit status: 0 accepted, 1 rejected, 3 daemon unreachable, 4 key refused."
)]
pub struct VerifyArgs {
    /// The holder's login (person id).
    #[arg(long)]
    pub login: String,
}

pub fn run(args: VerifyArgs, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut prompter = Prompter::stdin();
    let mut stderr = std::io::stderr();
    let passcode = if prompter.is_terminal() {
        prompter.secret(&mut stderr, "Passcode (PIN then code): ")?
    } else {
        // Read the passcode line silently: nothing to echo into a pipe's output.
        prompter.secret(&mut std::io::sink(), "")?
    };
    let answer = conn.client().verify(&args.login, passcode.trim())?;
    drop(passcode);
    match answer {
        Some(rights) => {
            if conn.json {
                writeln!(out, "{}", json!({"result": "accept", "rights": rights}))?;
            } else {
                writeln!(out, "accept")?;
                for right in rights.as_array().into_iter().flatten() {
                    let until = match right.get("until") {
                        Some(serde_json::Value::String(d)) => format!("until {d}"),
                        _ => "open-ended".to_owned(),
                    };
                    writeln!(
                        out,
                        "  director of {} ({}, {until})",
                        cell(right.get("school")),
                        cell(right.get("origin")),
                    )?;
                }
            }
            Ok(())
        }
        None => {
            if conn.json {
                writeln!(out, "{}", json!({"result": "reject"}))?;
            } else {
                writeln!(out, "reject")?;
            }
            Err(Exit(1).into())
        }
    }
}
