//! `keyward emergency`: access while a key is replaced (docs/emergency.md):
//! a sheet of one-time codes or a software token, granted at the station
//! by the district's inspector (or the desk), listed, revoked.

use std::io::Write;

use clap::{Subcommand, ValueEnum};

use super::common::{done, or_dash, show, show_list, Column, DaemonCommand};
use super::prompt::Prompter;
use crate::client::Client;
use crate::wire::emergency::{EmergencyEntry, EmergencyGrantBody};

const COLUMNS: &[Column<'static, EmergencyEntry>] = &[
    ("col-serial", |e| e.serial.clone()),
    ("col-holder", |e| e.holder.clone()),
    ("col-id", |e| e.request.to_string()),
    ("col-kind", |e| e.form.clone()),
    ("col-granted-by", |e| e.granted_by.clone()),
    ("col-expires", |e| e.expires_at.clone()),
    ("col-ended", |e| or_dash(e.ended_at.as_ref())),
    ("col-end-reason", |e| or_dash(e.end_reason.as_ref())),
];

/// The form of emergency access.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Form {
    /// A printed sheet of one-time codes, used in order.
    Sheet,
    /// A software token: an otpauth:// URI scanned by an authenticator app.
    App,
}

#[derive(Debug, Subcommand)]
pub enum EmergencyCommand {
    /// Grants the holder of a help request temporary access (at most 10
    /// days) while their new key is prepared; the holder types their PIN,
    /// twice. The codes or the URI are shown this once only.
    #[command(
        after_help = "Example:\n  keyward emergency grant --request 12 --form sheet --days 10"
    )]
    Grant {
        /// The help (replacement) request.
        #[arg(long)]
        request: i64,
        #[arg(long, value_enum)]
        form: Form,
        /// How many days (1 to 10).
        #[arg(long, default_value_t = 10)]
        days: u32,
        /// How many codes on the sheet (1 to 40).
        #[arg(long, default_value_t = 10)]
        codes: u32,
    },
    /// Emergency accesses, in force and ended.
    List,
    /// Ends an emergency access before its time.
    #[command(after_help = "Example:\n  keyward emergency revoke EMERGENCY-12-1")]
    Revoke { serial: String },
}

impl DaemonCommand for EmergencyCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            EmergencyCommand::Grant {
                request,
                form,
                days,
                codes,
            } => {
                let mut prompter = Prompter::stdin();
                let pin = loop {
                    let pin = prompter.secret(out, &format!("{} ", t!("emergency-pin")))?;
                    let again = prompter.secret(out, &format!("{} ", t!("station-pin-again")))?;
                    if again.trim() == pin.trim() {
                        break pin.trim().to_owned();
                    }
                    writeln!(out, "{}", t!("station-pins-differ"))?;
                };
                let body = EmergencyGrantBody {
                    form: match form {
                        Form::Sheet => "sheet",
                        Form::App => "app",
                    }
                    .to_owned(),
                    codes: matches!(form, Form::Sheet).then_some(codes),
                    days,
                    pin,
                };
                let granted = client.grant_emergency(request, &body)?;
                show(out, json, &granted, |out, g| {
                    writeln!(
                        out,
                        "{}",
                        t!(
                            "emergency-granted",
                            holder = g.holder.clone(),
                            until = g.expires_at.clone()
                        )
                    )?;
                    if !g.codes.is_empty() {
                        writeln!(out, "{}", t!("emergency-sheet-in-order"))?;
                        for (i, code) in g.codes.iter().enumerate() {
                            writeln!(out, "  {:>2}. {code}", i + 1)?;
                        }
                    }
                    if let Some(uri) = &g.otpauth {
                        writeln!(out, "{}", t!("emergency-scan"))?;
                        writeln!(out, "  {uri}")?;
                    }
                    writeln!(out, "{}", t!("emergency-shown-once"))?;
                    writeln!(out, "{}", t!("emergency-slip"))?;
                    write!(out, "{}", g.slip)?;
                    writeln!(out, "signature={}", g.signature)
                })
            }
            EmergencyCommand::List => show_list(out, json, &client.emergency_accesses()?, COLUMNS),
            EmergencyCommand::Revoke { serial } => {
                client.revoke_emergency(&serial)?;
                done(
                    out,
                    json,
                    &serde_json::json!({}),
                    &t!("emergency-revoked", serial = serial),
                )
            }
        }
    }
}
