//! `keyward tokens`: the desk's and inspector's work on keys — prepare (one or
//! a batch for the handover meeting), hand over, take back, receive, wipe,
//! restock, unlock, resync, revoke.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::{json, Value};

use super::common::{
    done, fields, or_dash, serial_or_device, show, show_list, word, yes_no, DaemonCommand,
};
use crate::client::{Client, ClientError};
use crate::domain::{RevokeReason, TokenState};
use crate::wire::devices::DeviceEntry;
use crate::wire::events::{DeviceEvent, ServerEvent};
use crate::wire::receipts::{Receipt, ReceiptAnswer};
use crate::wire::tokens::{
    HandoverBody, NewTokenBody, OtpKindName, PrepareBody, ResyncBody, ReturnBody, RevokeBody,
    TokenEntry, TokenFilter,
};
use crate::wire::ErrorCode;

#[derive(Debug, Clone, clap::Args)]
pub struct CredentialArgs {
    /// HOTP or TOTP [server default: totp].
    #[arg(long, value_enum)]
    kind: Option<OtpKindName>,
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
    fn into_body(self, holder: &str, reader: &str) -> PrepareBody {
        PrepareBody {
            holder: holder.to_owned(),
            reader: reader.to_owned(),
            kind: self.kind.map(|k| k.as_str().to_owned()),
            algorithm: self.algorithm,
            digits: self.digits,
            period: self.period,
        }
    }
}

/// A key named by its serial, or found at the daemon's reader it sits in.
#[derive(Debug, Clone, clap::Args)]
pub struct KeyAtReader {
    serial: Option<String>,
    #[arg(long)]
    reader: String,
}

impl KeyAtReader {
    /// The serial given, else the serial of the key at the reader.
    fn serial(&self, client: &Client) -> anyhow::Result<String> {
        serial_or_device(client, self.serial.clone(), Some(&self.reader))
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
    /// Imports factory-seeded tokens from the vendor's PSKC file: every key
    /// or none. The file is not kept.
    #[command(
        after_help = "Examples:\n  keyward tokens import commande-2026.pskc --dry-run --key-file cle.hex\n  keyward tokens import commande-2026.pskc --passphrase-file phrase.txt"
    )]
    Import(super::seeded::ImportArgs),
    /// Binds an imported seeded token to HOLDER, proved by the code it shows.
    #[command(
        after_help = "Example:\n  keyward tokens bind 1000133508267 --holder adurand --code 755224"
    )]
    Bind(super::seeded::BindArgs),
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
    /// with a code read from the token, or, for a touch key, the code it types
    /// when touched (asked for, read hidden); prints the signed handover receipt.
    #[command(
        after_help = "Examples:\n  keyward tokens handover --reader \"Virtual PCD 00 00\" --place \"Central office\"\n  keyward tokens handover --reader hid:5123456 --place \"Central office\"   (then touch the key)"
    )]
    Handover {
        #[command(flatten)]
        key: KeyAtReader,
        #[arg(long)]
        place: String,
    },
    /// Takes a key back with a signed return receipt; its secret is destroyed.
    /// A touch key proves possession by the code it types when touched.
    #[command(
        name = "return",
        after_help = "Example:\n  keyward tokens return --reader \"Virtual PCD 00 00\" --place \"IEN Est\" --reason \"end of appointment\""
    )]
    Return {
        #[command(flatten)]
        key: KeyAtReader,
        #[arg(long)]
        place: String,
        #[arg(long)]
        reason: String,
    },
    /// Marks a returned key as received at the IT centre.
    #[command(after_help = "Example:\n  keyward tokens receive 12345678")]
    Receive { serial: String },
    /// Resets the applet of the received key at READER (a Nitrokey 3 asks
    /// for a press of its button).
    #[command(after_help = "Example:\n  keyward tokens wipe --reader \"Virtual PCD 00 00\"")]
    Wipe {
        #[command(flatten)]
        key: KeyAtReader,
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
    /// Resets the PIN of an active key: no PIN logs in until its holder
    /// chooses a new one, when a gateway (RADIUS, /validate/check) asks.
    #[command(after_help = "Example:\n  keyward tokens reset-pin 12345678")]
    ResetPin { serial: String },
    /// Approves (the key's district inspector) that its holder resets a
    /// forgotten PIN at a station with the key in hand, once, before the
    /// approval expires.
    #[command(
        after_help = "Example:\n  keyward tokens approve-pin-reset 12345678 --hours 24\n\nThe holder then comes to a station: keyward station --forgotten-pin"
    )]
    ApprovePinReset {
        serial: String,
        /// How long the approval lasts, in hours (1 to 168).
        #[arg(long, default_value_t = crate::store::ops::DEFAULT_APPROVAL_HOURS)]
        hours: u32,
    },
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

/// A possession step's confirmation: what happened and the receipt signed.
fn done_with_receipt(
    out: &mut dyn Write,
    json: bool,
    answer: &ReceiptAnswer,
    what: &str,
) -> anyhow::Result<()> {
    let line = t!("with-receipt", what = what, receipt = answer.receipt.id);
    done(out, json, answer, &line)
}

impl DaemonCommand for TokensCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            TokensCommand::List { state, district } => {
                let answer = client.tokens(&TokenFilter {
                    district,
                    state,
                    ..TokenFilter::default()
                })?;
                show_list(
                    out,
                    json,
                    &answer,
                    &[
                        ("col-serial", |t: &TokenEntry| t.serial.clone()),
                        ("col-profile", |t| t.profile.clone()),
                        ("col-state", |t| word("state", t.state.as_str())),
                        ("col-holder", |t| or_dash(t.holder.as_ref())),
                        ("col-revoked", |t| {
                            or_dash(t.revoke_reason.map(|r| word("reason", r.as_str())))
                        }),
                    ],
                )
            }
            TokensCommand::Show { serial } => {
                let answer = client.token(&serial)?;
                show(out, json, &answer, |out, t| {
                    let c = t.credential.as_ref();
                    fields(
                        out,
                        &[
                            (&t!("field-serial"), t.serial.clone()),
                            (&t!("field-profile"), t.profile.clone()),
                            (&t!("field-state"), word("state", t.state.as_str())),
                            (&t!("field-holder"), or_dash(t.holder.as_ref())),
                            (
                                &t!("field-revoked-for"),
                                or_dash(t.revoke_reason.map(|r| word("reason", r.as_str()))),
                            ),
                            (&t!("field-kind"), or_dash(c.map(|c| c.kind.as_str()))),
                            (&t!("field-algorithm"), or_dash(c.map(|c| &c.algorithm))),
                            (&t!("field-digits"), or_dash(c.map(|c| c.digits))),
                            (&t!("field-period"), or_dash(c.and_then(|c| c.period))),
                            (&t!("field-locked"), or_dash(c.map(|c| yes_no(c.locked)))),
                            (&t!("field-failures"), or_dash(c.map(|c| c.failures))),
                        ],
                    )
                })
            }
            TokensCommand::Present => {
                let answer = client.devices()?;
                show_list(out, json, &answer, super::devices::DEVICE_COLUMNS)
            }
            TokensCommand::Import(args) => args.send(client, json, out),
            TokensCommand::Bind(args) => args.send(client, json, out),
            TokensCommand::Register { serial, profile } => {
                let answer = client.register_token(&NewTokenBody {
                    serial: serial.clone(),
                    profile,
                })?;
                done(out, json, &answer, &t!("token-registered", serial = serial))
            }
            TokensCommand::Prepare {
                reader,
                holder,
                serial,
                credential,
            } => {
                let serial = serial_or_device(client, serial, Some(&reader))?;
                let answer = client.prepare(&serial, &credential.into_body(&holder, &reader))?;
                done(
                    out,
                    json,
                    &answer,
                    &t!("token-prepared", serial = serial, holder = holder),
                )
            }
            TokensCommand::Batch {
                reader,
                holders,
                credential,
            } => batch(client, &reader, &holders, &credential, json, out),
            TokensCommand::Handover { key, place } => {
                let serial = key.serial(client)?;
                let typed = super::touch::before_possession(client, &key.reader, out)?;
                let body = HandoverBody {
                    place,
                    reader: key.reader,
                    typed,
                };
                let answer = client.handover(&serial, &body)?;
                done_with_receipt(
                    out,
                    json,
                    &answer,
                    &t!("token-handed-over", serial = serial),
                )
            }
            TokensCommand::Return { key, place, reason } => {
                let serial = key.serial(client)?;
                let typed = super::touch::before_possession(client, &key.reader, out)?;
                let body = ReturnBody {
                    place,
                    reason,
                    reader: key.reader,
                    typed,
                };
                let answer = client.return_token(&serial, &body)?;
                let what = t!("token-returned", serial = serial);
                done_with_receipt(out, json, &answer, &what)
            }
            TokensCommand::Receive { serial } => {
                let answer = client.receive(&serial)?;
                done(out, json, &answer, &t!("token-received", serial = serial))
            }
            TokensCommand::Wipe { key } => {
                let serial = key.serial(client)?;
                super::touch::before_change(client, &key.reader, out)?;
                let answer = client
                    .wipe(&serial, &key.reader)
                    .map_err(super::touch::explain)?;
                done(out, json, &answer, &t!("token-wiped", serial = serial))
            }
            TokensCommand::UnblockPin { serial, reader } => {
                let answer = client.unblock_pin(&serial, &reader)?;
                done(
                    out,
                    json,
                    &answer,
                    &t!("token-pin-unblocked", serial = serial),
                )
            }
            TokensCommand::Restock { serial } => {
                let answer = client.restock(&serial)?;
                done(out, json, &answer, &t!("token-restocked", serial = serial))
            }
            TokensCommand::Unlock { serial } => {
                let answer = client.unlock(&serial)?;
                done(out, json, &answer, &t!("token-unlocked", serial = serial))
            }
            TokensCommand::ResetPin { serial } => {
                let answer = client.reset_pin(&serial)?;
                done(out, json, &answer, &t!("token-pin-reset", serial = serial))
            }
            TokensCommand::ApprovePinReset { serial, hours } => {
                let answer = client.approve_pin_reset(&serial, hours)?;
                let line = t!(
                    "token-pin-reset-approved",
                    serial = serial,
                    until = answer.expires_at.clone()
                );
                done(out, json, &answer, &line)
            }
            TokensCommand::Resync {
                serial,
                first,
                second,
            } => {
                let body = ResyncBody {
                    first: first.into(),
                    second: second.into(),
                };
                let answer = client.resync(&serial, &body)?;
                done(out, json, &answer, &t!("token-resynced", serial = serial))
            }
            TokensCommand::Revoke { serial, reason } => {
                let body = RevokeBody {
                    reason: reason.as_str().to_owned(),
                };
                let answer = client.revoke(&serial, &body)?;
                done(
                    out,
                    json,
                    &answer,
                    &t!(
                        "token-revoked",
                        serial = serial,
                        reason = word("reason", reason.as_str())
                    ),
                )
            }
            TokensCommand::Receipts { serial } => {
                let answer = client.token_receipts(&serial)?;
                show_list(
                    out,
                    json,
                    &answer,
                    &[
                        ("col-id", |r: &Receipt| r.id.to_string()),
                        ("col-kind", |r| word("receipt-kind", r.kind.as_str())),
                    ],
                )
            }
        }
    }
}

/// Reads the holders file: one person id per line, blank lines and `#`
/// comments ignored.
pub fn read_holders(path: &PathBuf) -> anyhow::Result<Vec<String>> {
    let shown = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| t!("opening-file", file = shown))?;
    let mut holders = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.with_context(|| t!("reading-file", file = shown))?;
        let id = line.split('#').next().unwrap_or("").trim();
        if !id.is_empty() {
            holders.push(id.to_owned());
        }
    }
    Ok(holders)
}

/// Is this device a blank token the batch may prepare?
fn blank(device: &DeviceEntry) -> bool {
    matches!(device.state, None | Some(TokenState::Stock))
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
    let file = holders_file.display().to_string();
    anyhow::ensure!(!holders.is_empty(), t!("batch-lists-nobody", file = file));
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
    let mut current = client.device_at(reader)?;
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
        bar.set_message(t!("batch-insert-for", holder = holder));
        let serial = loop {
            if let Some(device) = current.take() {
                if let (true, Some(serial)) = (blank(&device), &device.serial) {
                    break serial.clone();
                }
                say(
                    &bar,
                    out,
                    t!(
                        "batch-not-blank",
                        serial = or_dash(device.serial.as_ref()),
                        reader = reader,
                        state = or_dash(device.state.map(|s| word("state", s.as_str())))
                    ),
                )?;
            } else {
                say(
                    &bar,
                    out,
                    t!("batch-waiting", reader = reader, holder = holder),
                )?;
            }
            current = next_insertion(&mut events, client, reader)?;
        };
        match client.prepare(&serial, &credential.clone().into_body(holder, reader)) {
            Ok(answer) => {
                let answer = serde_json::to_value(&answer)?;
                results.push(json!({"holder": holder, "serial": serial, "result": answer}));
                bar.inc(1);
                say(
                    &bar,
                    out,
                    t!("batch-prepared", serial = serial, holder = holder),
                )?;
                // This token is used: the next person waits for the next insertion.
                current = None;
            }
            Err(err @ ClientError::Api { .. })
                if !matches!(
                    err.code(),
                    Some(ErrorCode::DeviceError | ErrorCode::DeviceAbsent)
                ) =>
            {
                failures += 1;
                bar.inc(1);
                let error = super::common::client_error_text(&err);
                say(
                    &bar,
                    out,
                    t!("batch-not-prepared", holder = holder, error = error),
                )?;
                results.push(json!({"holder": holder, "serial": serial, "error": err.to_string()}));
                // The token is still blank: keep it for the next person.
                current = client.device_at(reader)?;
            }
            Err(err) => {
                bar.abandon();
                return Err(err)
                    .with_context(|| t!("batch-failed", serial = serial, holder = holder));
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
        let prepared = holders.len() - failures;
        writeln!(
            out,
            "{}",
            t!("batch-done", prepared = prepared, failed = failures)
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
) -> anyhow::Result<Option<DeviceEntry>> {
    loop {
        let Some(event) = events.next_event().with_context(|| t!("reading-events"))? else {
            anyhow::bail!(t!("events-closed"));
        };
        if let Some(ServerEvent::Device(DeviceEvent::Inserted { reader: at, .. })) = event.decode()
        {
            if at == reader {
                if let Some(device) = client.device_at(reader)? {
                    return Ok(Some(device));
                }
            }
        }
    }
}
