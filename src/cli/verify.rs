//! `keyward verify --login L`: asks the daemon whether PIN+code is right for
//! this person now, as the gateway does (support and scripts).

use std::io::Write;

use super::common::{Connection, Exit, UsageError};
use super::prompt::Prompter;
use crate::wire::verify::VerifyOutcome;
use clap::Args;

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyward verify --login adurand                 # prompts for PIN followed by the code, hidden\n  printf '%s\\n' \"$PASSCODE\" | keyward verify --login adurand --json\n\nExit status: 0 accepted, 1 rejected, 2 no passcode given (or a bad command line),\n3 daemon unreachable, 4 key refused."
)]
pub struct VerifyArgs {
    /// The holder's login (person id).
    #[arg(long)]
    pub login: String,
}

pub fn run(args: VerifyArgs, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut prompter = Prompter::stdin();
    let mut stderr = std::io::stderr();
    let read = if prompter.is_terminal() {
        prompter.secret(&mut stderr, &format!("{} ", t!("verify-prompt")))
    } else {
        // Read the passcode line silently: nothing to echo into a pipe's output.
        prompter.secret(&mut std::io::sink(), "")
    };
    // No passcode (empty input, or none at all) is a usage error, not a
    // rejection: nothing was asked of the daemon.
    let passcode = match read {
        Ok(passcode) if !passcode.trim().is_empty() => passcode,
        _ => return Err(UsageError(t!("verify-empty")).into()),
    };
    let answer = conn.client().verify(&args.login, passcode.trim())?;
    drop(passcode);
    if conn.json {
        // One line, keys sorted as the server's JSON objects keep them.
        writeln!(out, "{}", serde_json::to_value(&answer)?)?;
    }
    match answer {
        VerifyOutcome::Accept { rights } => {
            if !conn.json {
                writeln!(out, "{}", t!("verify-accept"))?;
                for right in rights {
                    let until = match right.until {
                        Some(d) => t!("verify-until", date = super::common::day(&d)),
                        None => t!("open-ended"),
                    };
                    let origin = super::common::word("origin", right.origin.as_str());
                    let line = t!(
                        "verify-right",
                        school = right.school,
                        origin = origin,
                        until = until
                    );
                    writeln!(out, "  {line}")?;
                }
            }
            Ok(())
        }
        VerifyOutcome::Reject => {
            if !conn.json {
                writeln!(out, "{}", t!("verify-reject"))?;
            }
            Err(Exit(1).into())
        }
    }
}
