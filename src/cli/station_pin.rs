//! `keyward station --forgotten-pin`: the holder who forgot their PIN
//! comes with the key and their inspector's approval; the station reads a
//! code from the key (proof of possession), the holder chooses a new PIN
//! (hidden, twice, the policy of activation), and the daemon resets it in
//! one step (docs/forgotten-pin.md); the signed slip is saved.

use std::io::Write;

use anyhow::Context as _;

use super::common::{client_error_text, or_dash};
use super::prompt::Prompter;
use super::station::{choose_pin, touch_proof, StationArgs};
use crate::client::{Client, ClientError};
use crate::domain::TokenState;
use crate::wire::devices::DeviceEntry;
use crate::wire::tokens::ActivateBody;
use crate::wire::{ErrorCode, ErrorDetail};

/// Takes one holder through a forgotten PIN's reset. `Ok(true)` when done.
pub(super) fn serve_holder(
    client: &Client,
    prompter: &mut Prompter,
    device: &DeviceEntry,
    args: &StationArgs,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let serial = or_dash(device.serial.as_ref());
    if device.state != Some(TokenState::Active) {
        writeln!(out, "{}", t!("station-pin-reset-not-active"))?;
        return Ok(false);
    }
    writeln!(out)?;
    writeln!(out, "{}", t!("station-pin-reset-intro"))?;
    writeln!(out, "{}", t!("station-choose-pin"))?;
    let answer = loop {
        let pin = choose_pin(prompter, out)?;
        let typed = touch_proof(device, prompter, out)?;
        let body = ActivateBody {
            reader: device.reader.clone(),
            pin: pin.trim().to_owned().into(),
            typed,
        };
        match client.forgotten_pin(&serial, &body) {
            Ok(answer) => break answer,
            Err(err) if is_pin_refusal(&err) => {
                let why = client_error_text(&err);
                writeln!(out, "{}", t!("station-pin-refused-choose", why = why))?;
            }
            Err(err) if err.detail() == Some(ErrorDetail::NoPinResetApproval) => {
                writeln!(out, "{}", t!("station-pin-reset-no-approval"))?;
                return Ok(false);
            }
            Err(err) => {
                let error = client_error_text(&err);
                writeln!(out, "{}", t!("station-pin-reset-failed", error = error))?;
                return Err(err).with_context(|| t!("station-pin-resetting"));
            }
        }
    };
    writeln!(out, "{}", t!("station-pin-reset-done", serial = serial))?;
    let dir = &args.receipts_dir;
    std::fs::create_dir_all(dir)
        .with_context(|| t!("creating-dir", dir = dir.display().to_string()))?;
    let path = dir.join(format!("pin-reset-slip-{}.txt", answer.approval));
    let shown = path.display().to_string();
    let text = format!("{}signature={}\n", answer.slip, answer.signature);
    std::fs::write(&path, text).with_context(|| t!("writing-file", file = shown))?;
    writeln!(out, "{}", t!("station-pin-reset-slip", path = shown))?;
    out.flush()?;
    Ok(true)
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
