//! `keyward tokens`: the desk's and inspector's work on keys — prepare (one or
//! a batch for the handover meeting), hand over, take back, receive, wipe,
//! restock, unlock, resync, revoke.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};

use super::common::{
    body, cell, device_at, done, fields, query, segment_path, serial_or_device, show, show_list,
    Connection,
};
use crate::client::{Client, ClientError};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    Totp,
    Hotp,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RevokeReason {
    Lost,
    Stolen,
    Broken,
    Faulty,
}

#[derive(Debug, Clone, clap::Args)]
pub struct CredentialArgs {
    /// HOTP or TOTP [server default: totp].
    #[arg(long, value_enum)]
    kind: Option<Kind>,
    /// sha1, sha256 or sha512 [server default: sha1].
    #[arg(long)]
    algorithm: Option<String>,
    /// 6, 7 or 8 [server default: 6].
    #[arg(long)]
    digits: Option<u8>,
    /// TOTP period in seconds [server default: 30].
    #[arg(long)]
    period: Option<u32>,
}

impl CredentialArgs {
    fn into_body(self, holder: &str, reader: &str) -> Value {
        body(json!({
            "holder": holder,
            "reader": reader,
            "kind": self.kind.map(|k| match k { Kind::Totp => "totp", Kind::Hotp => "hotp" }),
            "algorithm": self.algorithm,
            "digits": self.digits,
            "period": self.period,
        }))
    }
}

#[derive(Debug, Subcommand)]
pub enum TokensCommand {
    /// Lists keys known to keyward.
    #[command(after_help = "Example:\n  keyward tokens list --state active --district D-EST")]
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        district: Option<String>,
    },
    /// Shows one key: state, holder, credential, fail counter.
    #[command(after_help = "Example:\n  keyward tokens show 12345678")]
    Show { serial: String },
    /// Tokens present at the daemon's readers now (same as `keyward devices list`).
    #[command(after_help = "Example:\n  keyward tokens present")]
    Present,
    /// Registers a stock token by hand (tokens seen at a reader are registered
    /// automatically).
    #[command(
        after_help = "Example:\n  keyward tokens register --serial 12345678 --profile yubikey5-oath"
    )]
    Register {
        #[arg(long)]
        serial: String,
        #[arg(long)]
        profile: String,
    },
    /// Prepares the blank token at READER for HOLDER: a new secret is written,
    /// read back and committed.
    #[command(
        after_help = "Example:\n  keyward tokens prepare --reader \"Virtual PCD 00 00\" --holder adurand"
    )]
    Prepare {
        #[arg(long)]
        reader: String,
        #[arg(long)]
        holder: String,
        /// The token's serial [default: the token at READER].
        #[arg(long)]
        serial: Option<String>,
        #[command(flatten)]
        credential: CredentialArgs,
    },
    /// Handover meeting: prepares the next inserted blank token for the next
    /// person of FILE (one person id per line, `#` comments), waiting for each
    /// insertion, with a progress bar.
    #[command(
        after_help = "Example:\n  keyward tokens batch --reader \"Virtual PCD 00 00\" --holders new-directors.txt\n\nInsert a blank token, wait for \"prepared\", take it out, insert the next."
    )]
    Batch {
        #[arg(long)]
        reader: String,
        #[arg(long)]
        holders: PathBuf,
        #[command(flatten)]
        credential: CredentialArgs,
    },
    /// Hands the prepared token at READER to its holder: possession is checked
    /// with a code read from the token; prints the signed handover receipt.
    #[command(
        after_help = "Example:\n  keyward tokens handover --reader \"Virtual PCD 00 00\" --place \"Central office\""
    )]
    Handover {
        serial: Option<String>,
        #[arg(long)]
        reader: String,
        #[arg(long)]
        place: String,
    },
    /// Takes a key back with a signed return receipt; its secret is destroyed.
    #[command(
        name = "return",
        after_help = "Example:\n  keyward tokens return --reader \"Virtual PCD 00 00\" --place \"IEN Est\" --reason \"end of appointment\""
    )]
    Return {
        serial: Option<String>,
        #[arg(long)]
        reader: String,
        #[arg(long)]
        place: String,
        #[arg(long)]
        reason: String,
    },
    /// Marks a returned key as received at the IT centre.
    #[command(after_help = "Example:\n  keyward tokens receive 12345678")]
    Receive { serial: String },
    /// Resets the applet of the received key at READER.
    #[command(after_help = "Example:\n  keyward tokens wipe --reader \"Virtual PCD 00 00\"")]
    Wipe {
        serial: Option<String>,
        #[arg(long)]
        reader: String,
    },
    /// Unblocks the device PIN of the key at READER (3 wrong PINs): restores
    /// its retry counter with the sealed resetting code. The holder keeps
    /// their PIN; the desk never sees or sets it.
    #[command(
        name = "unblock-pin",
        after_help = "Example:\n  keyward tokens unblock-pin 12345678 --reader \"Virtual PCD 00 00\""
    )]
    UnblockPin {
        serial: String,
        #[arg(long)]
        reader: String,
    },
    /// Puts a wiped key back in stock.
    #[command(after_help = "Example:\n  keyward tokens restock 12345678")]
    Restock { serial: String },
    /// Unlocks a key locked after 10 failed logins.
    #[command(after_help = "Example:\n  keyward tokens unlock 12345678")]
    Unlock { serial: String },
    /// Resynchronises an HOTP key with two consecutive codes.
    #[command(
        after_help = "Example:\n  keyward tokens resync 12345678 --first 755224 --second 287082"
    )]
    Resync {
        serial: String,
        #[arg(long)]
        first: String,
        #[arg(long)]
        second: String,
    },
    /// Revokes a key at once (lost or stolen keys never come back).
    #[command(after_help = "Example:\n  keyward tokens revoke 12345678 --reason lost")]
    Revoke {
        serial: String,
        #[arg(long, value_enum)]
        reason: RevokeReason,
    },
    /// The receipts of a key.
    #[command(after_help = "Example:\n  keyward tokens receipts 12345678")]
    Receipts { serial: String },
}

fn token_path(serial: &str, verb: &str) -> String {
    segment_path(&["v1", "tokens", serial, verb])
}

fn receipt_line(answer: &Value) -> String {
    let receipt = answer.get("receipt").unwrap_or(answer);
    let id = receipt.get("id").or_else(|| receipt.get("number"));
    format!("receipt {} signed", cell(id))
}

pub fn run(command: TokensCommand, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = conn.client();
    let json = conn.json;
    match command {
        TokensCommand::List { state, district } => {
            let answer = client.get(&query(
                "/v1/tokens",
                &[
                    ("state", state.as_deref()),
                    ("district", district.as_deref()),
                ],
            ))?;
            show_list(
                out,
                json,
                &answer,
                &[
                    ("SERIAL", "serial"),
                    ("PROFILE", "profile"),
                    ("STATE", "state"),
                    ("HOLDER", "holder"),
                    ("REVOKED", "revoke_reason"),
                ],
            )
        }
        TokensCommand::Show { serial } => {
            let answer = client.get(&segment_path(&["v1", "tokens", &serial]))?;
            show(out, json, &answer, |out, v| {
                fields(
                    out,
                    v,
                    &[
                        ("serial", "serial"),
                        ("profile", "profile"),
                        ("state", "state"),
                        ("holder", "holder"),
                        ("revoked for", "revoke_reason"),
                        ("kind", "credential.kind"),
                        ("algorithm", "credential.algorithm"),
                        ("digits", "credential.digits"),
                        ("period", "credential.period"),
                        ("locked", "credential.locked"),
                        ("failures", "credential.failures"),
                    ],
                )
            })
        }
        TokensCommand::Present => {
            let answer = client.get("/v1/devices")?;
            show_list(out, json, &answer, super::devices::DEVICE_COLUMNS)
        }
        TokensCommand::Register { serial, profile } => {
            let answer = client.post(
                "/v1/tokens",
                Some(&json!({"serial": serial, "profile": profile})),
            )?;
            done(
                out,
                json,
                &answer,
                &format!("token {serial} registered in stock"),
            )
        }
        TokensCommand::Prepare {
            reader,
            holder,
            serial,
            credential,
        } => {
            let serial = serial_or_device(&client, serial, Some(&reader))?;
            let answer = client.post(
                &token_path(&serial, "prepare"),
                Some(&credential.into_body(&holder, &reader)),
            )?;
            done(
                out,
                json,
                &answer,
                &format!("token {serial} prepared for {holder}"),
            )
        }
        TokensCommand::Batch {
            reader,
            holders,
            credential,
        } => batch(&client, &reader, &holders, &credential, json, out),
        TokensCommand::Handover {
            serial,
            reader,
            place,
        } => {
            let serial = serial_or_device(&client, serial, Some(&reader))?;
            let answer = client.post(
                &token_path(&serial, "handover"),
                Some(&json!({"place": place, "reader": reader})),
            )?;
            done(
                out,
                json,
                &answer,
                &format!("token {serial} handed over; {}", receipt_line(&answer)),
            )
        }
        TokensCommand::Return {
            serial,
            reader,
            place,
            reason,
        } => {
            let serial = serial_or_device(&client, serial, Some(&reader))?;
            let answer = client.post(
                &token_path(&serial, "return"),
                Some(&json!({"place": place, "reason": reason, "reader": reader})),
            )?;
            done(
                out,
                json,
                &answer,
                &format!(
                    "token {serial} returned, secret destroyed; {}",
                    receipt_line(&answer)
                ),
            )
        }
        TokensCommand::Receive { serial } => {
            let answer = client.post(&token_path(&serial, "receive"), None)?;
            done(
                out,
                json,
                &answer,
                &format!("token {serial} received at the IT centre"),
            )
        }
        TokensCommand::Wipe { serial, reader } => {
            let serial = serial_or_device(&client, serial, Some(&reader))?;
            let answer = client.post(
                &token_path(&serial, "wipe"),
                Some(&json!({"reader": reader})),
            )?;
            done(out, json, &answer, &format!("token {serial} wiped"))
        }
        TokensCommand::UnblockPin { serial, reader } => {
            let answer = client.post(
                &token_path(&serial, "unblock-pin"),
                Some(&json!({"reader": reader})),
            )?;
            done(
                out,
                json,
                &answer,
                &format!("token {serial}: device PIN unblocked"),
            )
        }
        TokensCommand::Restock { serial } => {
            let answer = client.post(&token_path(&serial, "restock"), None)?;
            done(out, json, &answer, &format!("token {serial} back in stock"))
        }
        TokensCommand::Unlock { serial } => {
            let answer = client.post(&token_path(&serial, "unlock"), None)?;
            done(out, json, &answer, &format!("token {serial} unlocked"))
        }
        TokensCommand::Resync {
            serial,
            first,
            second,
        } => {
            let answer = client.post(
                &token_path(&serial, "resync"),
                Some(&json!({"first": first, "second": second})),
            )?;
            done(
                out,
                json,
                &answer,
                &format!("token {serial} resynchronised"),
            )
        }
        TokensCommand::Revoke { serial, reason } => {
            let reason = match reason {
                RevokeReason::Lost => "lost",
                RevokeReason::Stolen => "stolen",
                RevokeReason::Broken => "broken",
                RevokeReason::Faulty => "faulty",
            };
            let answer = client.post(
                &token_path(&serial, "revoke"),
                Some(&json!({"reason": reason})),
            )?;
            done(
                out,
                json,
                &answer,
                &format!("token {serial} revoked ({reason})"),
            )
        }
        TokensCommand::Receipts { serial } => {
            let answer = client.get(&token_path(&serial, "receipts"))?;
            show_list(out, json, &answer, &[("ID", "id"), ("KIND", "kind")])
        }
    }
}

/// Reads the holders file: one person id per line, blank lines and `#`
/// comments ignored.
pub fn read_holders(path: &PathBuf) -> anyhow::Result<Vec<String>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut holders = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        let id = line.split('#').next().unwrap_or("").trim();
        if !id.is_empty() {
            holders.push(id.to_owned());
        }
    }
    Ok(holders)
}

/// Is this device a blank token the batch may prepare?
fn blank(device: &Value) -> bool {
    matches!(
        device.get("state").and_then(Value::as_str),
        None | Some("stock")
    )
}

fn batch(
    client: &Client,
    reader: &str,
    holders_file: &PathBuf,
    credential: &CredentialArgs,
    json: bool,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let holders = read_holders(holders_file)?;
    anyhow::ensure!(
        !holders.is_empty(),
        "{} lists nobody",
        holders_file.display()
    );
    // Subscribe before looking, so no insertion falls between the two.
    let mut events = client.events()?;
    let bar = indicatif::ProgressBar::new(holders.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut results = Vec::new();
    let mut failures = 0usize;
    // A token already in the reader counts as the first insertion.
    let mut current = device_at(client, reader)?;
    let say =
        |bar: &indicatif::ProgressBar, out: &mut dyn Write, line: String| -> std::io::Result<()> {
            if json {
                return Ok(());
            }
            bar.suspend(|| {
                writeln!(out, "{line}")?;
                out.flush()
            })
        };
    for holder in &holders {
        bar.set_message(format!("insert a blank token for {holder}"));
        let serial = loop {
            if let Some(device) = current.take() {
                if blank(&device) {
                    break cell(device.get("serial"));
                }
                say(
                    &bar,
                    out,
                    format!(
                        "token {} at {reader} is {}, not blank: take it out",
                        cell(device.get("serial")),
                        cell(device.get("state"))
                    ),
                )?;
            } else {
                say(
                    &bar,
                    out,
                    format!("waiting for a blank token at {reader} for {holder}"),
                )?;
            }
            current = next_insertion(&mut events, client, reader)?;
        };
        match client.post(
            &token_path(&serial, "prepare"),
            Some(&credential.clone().into_body(holder, reader)),
        ) {
            Ok(answer) => {
                results.push(json!({"holder": holder, "serial": serial, "result": answer}));
                bar.inc(1);
                say(
                    &bar,
                    out,
                    format!("prepared {serial} for {holder}: take it out, insert the next"),
                )?;
                // This token is used: the next person waits for the next insertion.
                current = None;
            }
            Err(err @ ClientError::Api { .. })
                if err.code() != Some("device_error") && err.code() != Some("device_absent") =>
            {
                failures += 1;
                bar.inc(1);
                say(&bar, out, format!("{holder}: not prepared: {err}"))?;
                results.push(json!({"holder": holder, "serial": serial, "error": err.to_string()}));
                // The token is still blank: keep it for the next person.
                current = device_at(client, reader)?;
            }
            Err(err) => {
                bar.abandon();
                return Err(err).with_context(|| format!("preparing {serial} for {holder}"));
            }
        }
    }
    bar.finish_and_clear();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&Value::Array(results))?
        )?;
    } else {
        writeln!(
            out,
            "batch: {} prepared, {failures} not",
            holders.len() - failures
        )?;
    }
    if failures > 0 {
        return Err(super::common::Exit(6).into());
    }
    Ok(())
}

/// Waits for a token to be inserted at `reader` (after any removal), and
/// returns what `GET /v1/devices` says about it.
fn next_insertion(
    events: &mut crate::client::EventStream,
    client: &Client,
    reader: &str,
) -> anyhow::Result<Option<Value>> {
    loop {
        let Some(event) = events.next_event().context("reading the event stream")? else {
            anyhow::bail!("the daemon closed the event stream");
        };
        if event.kind == "device"
            && event.data.get("reader").and_then(Value::as_str) == Some(reader)
            && event.data.get("kind").and_then(Value::as_str) == Some("inserted")
        {
            if let Some(device) = device_at(client, reader)? {
                return Ok(Some(device));
            }
        }
    }
}
