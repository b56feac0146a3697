//! `keyward station`: the handover station. Waits for a token at its reader,
//! shows whose it is, has the holder acknowledge the rules and choose a PIN
//! (hidden, typed twice, policy explained), activates the key through the
//! daemon (which checks possession and sets the device PIN where the profile
//! has one), and saves the handover receipt as a printable page.

use std::io::Write;
use std::path::PathBuf;

use super::common::{or_dash, Connection};
use super::prompt::Prompter;
use super::touch::{self, TouchNeed};
use crate::client::{Client, ClientError, EventStream};
use crate::domain::receipt::{Lang, ReceiptKind};
use crate::domain::TokenState;
use crate::wire::devices::DeviceEntry;
use crate::wire::events::{DeviceEvent, ServerEvent};
use crate::wire::receipts::Receipt;
use crate::wire::tokens::ActivateBody;
use crate::wire::ErrorCode;
use anyhow::Context as _;
use clap::{Args, ValueEnum};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum StationLang {
    Fr,
    En,
}

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
    /// Language of the rules and the receipt.
    #[arg(long, value_enum, default_value_t = StationLang::Fr)]
    pub lang: StationLang,
}

pub fn run(args: StationArgs, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = conn.client();
    let mut prompter = Prompter::stdin();
    let mut events = client.events()?;
    let lang = match args.lang {
        StationLang::Fr => Lang::Fr,
        StationLang::En => Lang::En,
    };
    loop {
        let device = wait_for_token(&client, &mut events, args.reader.as_deref(), out)?;
        let done = serve_holder(&client, &mut prompter, &device, &args, lang, out)?;
        if done && args.once {
            return Ok(());
        }
        writeln!(out, "Please take the key out.")?;
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
            writeln!(
                out,
                "Waiting for a key at {}…",
                reader.unwrap_or("the station's reader")
            )?;
            out.flush()?;
            said = true;
        }
        // Sleep on the stream until something is inserted at our reader.
        loop {
            let event = events
                .next_event()
                .context("reading the event stream")?
                .context("the daemon closed the event stream")?;
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

fn wait_for_removal(events: &mut EventStream, reader: &str) -> anyhow::Result<()> {
    loop {
        let event = events
            .next_event()
            .context("reading the event stream")?
            .context("the daemon closed the event stream")?;
        if let Some(ServerEvent::Device(DeviceEvent::Removed { reader: at })) = event.decode() {
            if at == reader {
                return Ok(());
            }
        }
    }
}

/// Takes one holder through activation. `Ok(true)` when the key is active.
fn serve_holder(
    client: &Client,
    prompter: &mut Prompter,
    device: &DeviceEntry,
    args: &StationArgs,
    lang: Lang,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let serial = or_dash(device.serial.as_ref());
    let reader = device.reader.clone();
    let state = or_dash(device.state);
    writeln!(out)?;
    writeln!(out, "Key {serial} at {reader}")?;
    writeln!(out, "  holder: {}", or_dash(device.holder.as_ref()))?;
    writeln!(out, "  state:  {state}")?;
    match device.state {
        Some(TokenState::HandedOver) => {}
        Some(TokenState::Active) => {
            writeln!(out, "This key is already active: nothing to do here.")?;
            return Ok(false);
        }
        Some(TokenState::Prepared) => {
            writeln!(
                out,
                "This key has not been handed over yet: the inspector or the desk records the handover first."
            )?;
            return Ok(false);
        }
        _ => {
            writeln!(
                out,
                "This key cannot be activated (state {state}); ask the IT desk."
            )?;
            return Ok(false);
        }
    }
    writeln!(out)?;
    writeln!(out, "By activating this key you acknowledge these rules:")?;
    for rule in ReceiptKind::Handover.rules() {
        writeln!(out, "  - {}", rule.text(lang))?;
    }
    loop {
        let answer = prompter.ask(out, "Type \"yes\" to acknowledge them: ")?;
        if answer.eq_ignore_ascii_case("yes") || answer.eq_ignore_ascii_case("oui") {
            break;
        }
        writeln!(
            out,
            "The key can only be activated once you acknowledge the rules."
        )?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "Choose your personal PIN: 6 to 8 digits, not easy to guess. You will type it before each code."
    )?;
    let activated = loop {
        let pin = prompter.secret(out, "PIN: ")?;
        if let Err(problem) = crate::crypto::pin::Pin::parse(pin.trim()) {
            writeln!(out, "PIN refused: {problem}")?;
            continue;
        }
        let again = prompter.secret(out, "PIN again: ")?;
        if again.trim() != pin.trim() {
            writeln!(out, "The two PINs differ. Please start again.")?;
            continue;
        }
        // A touch key proves possession by the code it types; a token that
        // confirms its PIN with its button (Nitrokey 3) asks for a press.
        let typed = match touch::need_of(device) {
            TouchNeed::Types => {
                let text = touch::TOUCH_TO_TYPE.text(lang);
                Some(touch::read_typed(prompter, out, text)?.trim().to_owned())
            }
            TouchNeed::Confirms => {
                writeln!(out, "{}", touch::TOUCH_TO_CONFIRM.text(lang))?;
                out.flush()?;
                None
            }
            TouchNeed::None => None,
        };
        let body = ActivateBody {
            reader: reader.clone(),
            pin: pin.trim().to_owned().into(),
            typed,
        };
        match client.activate(&serial, &body) {
            Ok(answer) => break answer,
            Err(err) if is_pin_refusal(&err) => {
                writeln!(out, "PIN refused: {err}. Please choose another.")?;
            }
            Err(err) if err.detail() == Some(crate::wire::ErrorDetail::TouchTimeout) => {
                writeln!(out, "{}", touch::TOUCH_TIMED_OUT.text(lang))?;
            }
            Err(err) => {
                writeln!(out, "Activation failed: {err}")?;
                return Err(err).context("activating the key");
            }
        }
    };
    writeln!(out, "Your key {serial} is active.")?;
    let receipt_id = activated.receipt_id.map(|id| id.to_string());
    let page = match &activated.receipt {
        Some(receipt) => Some(checked_page(receipt, lang)?),
        None => None,
    };
    match receipt_id {
        Some(id) => {
            let lang_arg = match lang {
                Lang::Fr => super::receipts::LangArg::Fr,
                Lang::En => super::receipts::LangArg::En,
            };
            let page = match page {
                Some(page) => page,
                None => {
                    super::receipts::fetch(client, &id, super::receipts::Format::Html, lang_arg)?
                }
            };
            std::fs::create_dir_all(&args.receipts_dir)
                .with_context(|| format!("creating {}", args.receipts_dir.display()))?;
            let path = args
                .receipts_dir
                .join(format!("handover-receipt-{id}.html"));
            std::fs::write(&path, page).with_context(|| format!("writing {}", path.display()))?;
            writeln!(out, "Handover receipt: {}", path.display())?;
        }
        None => writeln!(out, "(the daemon returned no receipt id)")?,
    }
    out.flush()?;
    Ok(true)
}

/// The printable page of a receipt the daemon sent, after checking its
/// signature against the key it names (a page that does not verify is refused).
fn checked_page(receipt: &Receipt, lang: Lang) -> anyhow::Result<String> {
    let key = crate::crypto::parse_public_key(&receipt.public_key)?;
    let signed = crate::crypto::verify_receipt(&key, &receipt.export)
        .context("the handover receipt's signature does not verify")?;
    Ok(signed.render_html(lang))
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
