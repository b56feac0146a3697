//! `keyward station`: the handover station. Waits for a token at its reader,
//! shows whose it is, has the holder acknowledge the rules and choose a PIN
//! (hidden, typed twice, policy explained), activates the key through the
//! daemon (which checks possession and sets the device PIN where the profile
//! has one), and saves the handover receipt as a printable page.

use std::io::Write;
use std::path::PathBuf;

use super::common::{or_dash, word, Connection};
use super::prompt::Prompter;
use super::touch::{self, TouchNeed};
use crate::client::{Client, ClientError, EventStream};
use crate::domain::receipt::ReceiptKind;
use crate::domain::TokenState;
use crate::wire::devices::DeviceEntry;
use crate::wire::events::{DeviceEvent, ServerEvent};
use crate::wire::receipts::Receipt;
use crate::wire::tokens::ActivateBody;
use crate::wire::ErrorCode;
use anyhow::Context as _;
use clap::Args;

#[derive(Debug, Args)]
#[command(
    after_help = "Example (a station key bound to its reader):\n  KEYWARD_API_KEY=kw_… keyward station --reader \"Virtual PCD 00 00\"\n\nThe holder inserts the key they were handed, reads whose it is, types \"yes\"\nto the rules and chooses a PIN twice. Answers may also come from a pipe:\n  printf 'yes\\n482915\\n482915\\n' | keyward station --reader R --once"
)]
pub struct StationArgs {
    /// The station's reader [default: any reader the station key may use].
    #[arg(long)]
    pub reader: Option<String>,
    /// Stop after one activation (default: serve holders until interrupted).
    #[arg(long)]
    pub once: bool,
    /// Where to save handover receipts.
    #[arg(long, default_value = ".")]
    pub receipts_dir: PathBuf,
    /// Reset a forgotten PIN instead (the holder brings the key; their
    /// inspector approved it with `keyward tokens approve-pin-reset`).
    #[arg(long)]
    pub forgotten_pin: bool,
}

pub fn run(args: StationArgs, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = conn.client();
    let mut prompter = Prompter::stdin();
    let mut events = client.events()?;
    loop {
        let device = wait_for_token(&client, &mut events, args.reader.as_deref(), out)?;
        let done = if args.forgotten_pin {
            show_key(&device, out)?;
            super::station_pin::serve_holder(&client, &mut prompter, &device, &args, out)?
        } else {
            serve_holder(&client, &mut prompter, &device, &args, out)?
        };
        if done && args.once {
            return Ok(());
        }
        writeln!(out, "{}", t!("station-take-out"))?;
        out.flush()?;
        wait_for_removal(&mut events, &device.reader)?;
    }
}

fn matches_reader(at: &str, reader: Option<&str>) -> bool {
    reader.is_none_or(|r| at == r)
}

/// A token present at the station's reader (already there, or the next one
/// inserted).
fn wait_for_token(
    client: &Client,
    events: &mut EventStream,
    reader: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<DeviceEntry> {
    let mut said = false;
    loop {
        let found = client
            .devices()?
            .into_iter()
            .find(|d| matches_reader(&d.reader, reader) && d.present && d.serial.is_some());
        if let Some(device) = found {
            return Ok(device);
        }
        if !said {
            let reader = reader.map_or_else(|| t!("station-any-reader"), str::to_owned);
            writeln!(out, "{}", t!("station-waiting", reader = reader))?;
            out.flush()?;
            said = true;
        }
        // Sleep on the stream until something is inserted at our reader.
        loop {
            let event = next_event(events)?;
            if let Some(ServerEvent::Device(DeviceEvent::Inserted { reader: at, .. })) =
                event.decode()
            {
                if matches_reader(&at, reader) {
                    break;
                }
            }
        }
    }
}

/// The next event of the stream; an error if the daemon closed it.
fn next_event(events: &mut EventStream) -> anyhow::Result<crate::client::Event> {
    events
        .next_event()
        .with_context(|| t!("reading-events"))?
        .with_context(|| t!("events-closed"))
}

fn wait_for_removal(events: &mut EventStream, reader: &str) -> anyhow::Result<()> {
    loop {
        let event = next_event(events)?;
        if let Some(ServerEvent::Device(DeviceEvent::Removed { reader: at })) = event.decode() {
            if at == reader {
                return Ok(());
            }
        }
    }
}

/// Shows whose key is at the reader and its state.
fn show_key(device: &DeviceEntry, out: &mut dyn Write) -> anyhow::Result<()> {
    let serial = or_dash(device.serial.as_ref());
    let state = device
        .state
        .map_or_else(|| "-".to_owned(), |s| word("state", s.as_str()));
    writeln!(out)?;
    writeln!(
        out,
        "{}",
        t!("station-key-at", serial = serial, reader = device.reader)
    )?;
    let holder = or_dash(device.holder.as_ref());
    writeln!(out, "  {}", t!("station-holder", holder = holder))?;
    writeln!(out, "  {}", t!("station-state", state = state))?;
    Ok(())
}

/// Takes one holder through activation. `Ok(true)` when the key is active.
fn serve_holder(
    client: &Client,
    prompter: &mut Prompter,
    device: &DeviceEntry,
    args: &StationArgs,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let lang = super::lang();
    let serial = or_dash(device.serial.as_ref());
    let reader = device.reader.clone();
    let state = device
        .state
        .map_or_else(|| "-".to_owned(), |s| word("state", s.as_str()));
    show_key(device, out)?;
    match device.state {
        Some(TokenState::HandedOver) => {}
        Some(TokenState::Active) => {
            writeln!(out, "{}", t!("station-already-active"))?;
            return Ok(false);
        }
        Some(TokenState::Prepared) => {
            writeln!(out, "{}", t!("station-not-handed-over"))?;
            return Ok(false);
        }
        _ => {
            writeln!(out, "{}", t!("station-cannot-activate", state = state))?;
            return Ok(false);
        }
    }
    writeln!(out)?;
    writeln!(out, "{}", t!("station-rules-intro"))?;
    for rule in ReceiptKind::Handover.rules() {
        writeln!(out, "  - {}", rule.text(lang))?;
    }
    loop {
        let answer = prompter.ask(out, &format!("{} ", t!("station-acknowledge")))?;
        // "yes" in the station's language; "oui" and "yes" both do.
        if answer.eq_ignore_ascii_case(&t!("station-yes"))
            || answer.eq_ignore_ascii_case("yes")
            || answer.eq_ignore_ascii_case("oui")
        {
            break;
        }
        writeln!(out, "{}", t!("station-must-acknowledge"))?;
    }
    writeln!(out)?;
    writeln!(out, "{}", t!("station-choose-pin"))?;
    let activated = loop {
        let pin = choose_pin(prompter, out)?;
        let typed = touch_proof(device, prompter, out)?;
        let body = ActivateBody {
            reader: reader.clone(),
            pin: pin.trim().to_owned().into(),
            typed,
        };
        match client.activate(&serial, &body) {
            Ok(answer) => break answer,
            Err(err) if is_pin_refusal(&err) => {
                let why = super::common::client_error_text(&err);
                writeln!(out, "{}", t!("station-pin-refused-choose", why = why))?;
            }
            Err(err) if err.detail() == Some(crate::wire::ErrorDetail::TouchTimeout) => {
                writeln!(out, "{}", t!("touch-timed-out"))?;
            }
            Err(err) => {
                let error = super::common::client_error_text(&err);
                writeln!(out, "{}", t!("station-activation-failed", error = error))?;
                return Err(err).with_context(|| t!("station-activating"));
            }
        }
    };
    writeln!(out, "{}", t!("station-active", serial = serial))?;
    let receipt_id = activated.receipt_id.map(|id| id.to_string());
    let page = match &activated.receipt {
        Some(receipt) => Some(checked_page(client, receipt)?),
        None => None,
    };
    match receipt_id {
        Some(id) => {
            let page = match page {
                Some(page) => page,
                None => super::receipts::fetch(client, &id, super::receipts::Format::Html)?,
            };
            let dir = &args.receipts_dir;
            std::fs::create_dir_all(dir)
                .with_context(|| t!("creating-dir", dir = dir.display().to_string()))?;
            let path = dir.join(format!("handover-receipt-{id}.html"));
            let shown = path.display().to_string();
            std::fs::write(&path, page).with_context(|| t!("writing-file", file = shown))?;
            writeln!(out, "{}", t!("station-receipt-saved", path = shown))?;
        }
        None => writeln!(out, "{}", t!("station-no-receipt"))?,
    }
    out.flush()?;
    Ok(true)
}

/// The holder's new PIN, typed twice, asked again until it meets the
/// policy (the reason said as they type) and both entries match.
pub(super) fn choose_pin(
    prompter: &mut Prompter,
    out: &mut dyn Write,
) -> anyhow::Result<zeroize::Zeroizing<String>> {
    loop {
        let pin = prompter.secret(out, &format!("{} ", t!("station-pin")))?;
        if let Err(problem) = crate::crypto::pin::Pin::parse(pin.trim()) {
            let why = super::common::pin_problem_text(problem);
            writeln!(out, "{}", t!("station-pin-refused", why = why))?;
            continue;
        }
        let again = prompter.secret(out, &format!("{} ", t!("station-pin-again")))?;
        if again.trim() != pin.trim() {
            writeln!(out, "{}", t!("station-pins-differ"))?;
            continue;
        }
        return Ok(zeroize::Zeroizing::new(pin.trim().to_owned()));
    }
}

/// A touch key proves possession by the code it types; a token that
/// confirms its PIN with its button (Nitrokey 3) asks for a press.
pub(super) fn touch_proof(
    device: &DeviceEntry,
    prompter: &mut Prompter,
    out: &mut dyn Write,
) -> anyhow::Result<Option<String>> {
    Ok(match touch::need_of(device) {
        TouchNeed::Types => {
            let text = t!("touch-to-type");
            Some(touch::read_typed(prompter, out, &text)?.trim().to_owned())
        }
        TouchNeed::Confirms => {
            writeln!(out, "{}", t!("touch-to-confirm"))?;
            out.flush()?;
            None
        }
        TouchNeed::None => None,
    })
}

/// The printable page of a receipt the daemon sent, after checking its
/// signature against the key it names (a page that does not verify is
/// refused), its time in the authority's time zone.
fn checked_page(client: &Client, receipt: &Receipt) -> anyhow::Result<String> {
    let key = crate::crypto::parse_public_key(&receipt.public_key)?;
    let signed = crate::crypto::verify_receipt(&key, &receipt.export)
        .with_context(|| t!("station-receipt-bad-signature"))?;
    Ok(signed.render_html(super::lang(), &client.time_zone()?))
}

/// A refusal the holder can fix by choosing another PIN.
fn is_pin_refusal(err: &ClientError) -> bool {
    match err {
        ClientError::Api { code, field, .. } => {
            *code == ErrorCode::Invalid && field.as_deref() == Some("pin")
        }
        _ => false,
    }
}
