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
    #[command(after_help = "Example:\n  keyward emergency list")]
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
                        for line in qr_lines(uri).unwrap_or_default() {
                            writeln!(out, "  {line}")?;
                        }
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

/// Modules of light margin around the code.
const QUIET: i32 = 2;

/// The QR code of `text` for a terminal, two module rows per line with
/// half blocks, light modules drawn (as `qrencode -t UTF8` does, for the
/// light-on-dark terminal of a station); `None` when it does not fit.
pub fn qr_lines(text: &str) -> Option<Vec<String>> {
    use qrcodegen::{QrCode, QrCodeEcc};
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = code.size();
    let light = |x: i32, y: i32| x < 0 || y < 0 || x >= size || y >= size || !code.get_module(x, y);
    let span = -QUIET..size + QUIET;
    Some(
        span.clone()
            .step_by(2)
            .map(|y| {
                span.clone()
                    .map(
                        |x| match (light(x, y), y + 1 < size + QUIET && light(x, y + 1)) {
                            (true, true) => '█',
                            (true, false) => '▀',
                            (false, true) => '▄',
                            (false, false) => ' ',
                        },
                    )
                    .collect()
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::qr_lines;

    #[test]
    fn a_qr_code_is_square_with_its_margin() {
        let lines = qr_lines("otpauth://totp/keyward:adurand?secret=GEZDGNBVGY3TQOJQ").unwrap();
        let width = lines[0].chars().count();
        // Version 3 or 4 here: 29 or 33 modules, plus twice the margin.
        assert!(width == 33 || width == 37, "{width}");
        assert_eq!(lines.len(), width.div_ceil(2));
        assert!(lines.iter().all(|l| l.chars().count() == width));
        // The margin is light, finder patterns dark somewhere.
        assert!(lines[0].chars().all(|c| c == '█' || c == '▀'));
        assert!(lines.iter().any(|l| l.contains(' ')));
        assert_ne!(qr_lines("a"), qr_lines("b"));
    }
}
