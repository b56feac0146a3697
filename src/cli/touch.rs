//! Touching a key, at the command line and at the station
//! (`docs/devices.md`): a touch key proves possession by the code it types
//! when touched, which is read here as a hidden line; a Nitrokey 3 waits for
//! a press of its button before it deletes, resets or takes a PIN, so the
//! operator is told to press it before the request goes out.
//!
//! The prompts are the catalogue's `touch-*` messages.

use std::io::Write;

use zeroize::Zeroizing;

use super::prompt::Prompter;
use crate::client::{Client, ClientError};
use crate::devices::TOUCH_KEY_PROFILE;
use crate::wire::devices::DeviceEntry;
use crate::wire::ErrorDetail;

/// What the token at a reader needs from a finger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TouchNeed {
    /// Nothing: its code is read from it.
    None,
    /// It types its code when touched (a touch key).
    Types,
    /// It waits for its button before changes and PINs (a Nitrokey 3).
    Confirms,
}

/// What the token at `device` needs, by its firmware profile.
pub fn need_of(device: &DeviceEntry) -> TouchNeed {
    let Some(profile) = device.profile.as_deref() else {
        return TouchNeed::None;
    };
    if profile == TOUCH_KEY_PROFILE {
        return TouchNeed::Types;
    }
    let confirms = crate::profile::builtin()
        .ok()
        .and_then(|all| all.into_iter().find(|p| p.id == profile))
        .is_some_and(|p| p.dialect.touch_confirms_changes);
    if confirms {
        TouchNeed::Confirms
    } else {
        TouchNeed::None
    }
}

/// What the token at `reader` needs (nothing when no token is there: the
/// daemon then refuses the request itself).
pub fn need_at(client: &Client, reader: &str) -> anyhow::Result<TouchNeed> {
    Ok(client
        .device_at(reader)?
        .map_or(TouchNeed::None, |d| need_of(&d)))
}

/// Asks for a touch and reads the line the key types, hidden on a
/// terminal.
pub fn read_typed(
    prompter: &mut Prompter,
    out: &mut dyn Write,
    prompt: &str,
) -> anyhow::Result<Zeroizing<String>> {
    writeln!(out, "{prompt}")?;
    let typed = prompter.secret(out, "> ")?;
    anyhow::ensure!(!typed.trim().is_empty(), t!("touch-nothing-typed"));
    Ok(typed)
}

/// For a command at `reader`: the code a touch key types (asked for and
/// read from standard input), or the button prompt for a token that
/// confirms with it. `None` for a token whose code is read from it.
pub fn before_possession(
    client: &Client,
    reader: &str,
    out: &mut dyn Write,
) -> anyhow::Result<Option<String>> {
    match need_at(client, reader)? {
        TouchNeed::Types => {
            let typed = read_typed(&mut Prompter::stdin(), out, &t!("touch-to-type"))?;
            Ok(Some(typed.trim().to_owned()))
        }
        TouchNeed::Confirms | TouchNeed::None => Ok(None),
    }
}

/// For a change the token confirms with its button (wipe): tells the
/// operator to press it before the request goes out.
pub fn before_change(client: &Client, reader: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    if need_at(client, reader)? == TouchNeed::Confirms {
        writeln!(out, "{}", t!("touch-to-confirm"))?;
        out.flush()?;
    }
    Ok(())
}

/// A touch timeout, told apart from a lock: the daemon's error, with what
/// to do.
pub fn explain(err: ClientError) -> anyhow::Error {
    if err.detail() == Some(ErrorDetail::TouchTimeout) {
        anyhow::Error::new(err).context(t!("touch-timed-out"))
    } else {
        err.into()
    }
}
