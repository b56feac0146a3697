//! `keyward sim`: run the virtual token against a vpcd reader until killed.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::oath::sim::vpcd::{self, Faults};
use crate::oath::sim::{CardOptions, FileStore, OathApplet, OsEntropy, Personality, Touch};

/// The real token the virtual one behaves like.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SimProfile {
    // YubiKey 5 OATH applet: SEND REMAINING, 6984, no button.
    Yubikey5,
    // Nitrokey 3 secrets app: GET RESPONSE, 6A82, button for DELETE/RESET/PIN.
    Nitrokey3,
}

/// Whether the token's button gets pressed when it asks.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SimTouch {
    // At once.
    Press,
    // Never: the token answers 6982 after the touch timeout.
    Never,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyward sim --vpcd 127.0.0.1:35963 --state token.toml\n  keyward sim --vpcd 127.0.0.1:35963 --state nk3.toml --profile nitrokey3 --firmware 4.11.0"
)]
pub struct SimArgs {
    /// vpcd reader to connect to, HOST:PORT (pcscd's vsmartcard slot).
    #[arg(long, value_name = "HOST:PORT")]
    vpcd: String,
    /// State file (credentials, counters, PIN); created if missing, written atomically.
    #[arg(long, value_name = "FILE")]
    state: PathBuf,
    /// Serial number of a new token (ignored when the state file exists).
    #[arg(long, default_value_t = 12_345_678)]
    serial: u32,
    /// Bytes per response before SW 61xx (1 to 255).
    #[arg(long, default_value_t = 255, value_parser = clap::value_parser!(u16).range(1..=255))]
    chunk: u16,
    /// Fault: drop the connection (unplug) when APDU number N+1 arrives.
    #[arg(long, value_name = "N")]
    drop_after: Option<u64>,
    /// Fault: process that last APDU before dropping (its answer is lost).
    #[arg(long, requires = "drop_after")]
    process_dropped: bool,
    /// Fault: answer instruction INS with status word SW, e.g. 01=6A84 (hex).
    #[arg(long, value_name = "INS=SW", value_parser = parse_fault)]
    fail_ins: Option<(u8, u16)>,
    /// The real token to behave like (yubikey5: SEND REMAINING, 6984; nitrokey3:
    /// GET RESPONSE, 6A82, button before DELETE, RESET and PIN).
    #[arg(long, value_enum, default_value_t = SimProfile::Yubikey5)]
    profile: SimProfile,
    /// Firmware version it reports [default: 5.4.3 for yubikey5, 4.11.0 for nitrokey3].
    #[arg(long, value_name = "X.Y.Z", value_parser = parse_version)]
    firmware: Option<[u8; 3]>,
    /// Whether the button is pressed when the token waits for it (never: the
    /// token answers 6982 after the touch timeout).
    #[arg(long, value_enum, default_value_t = SimTouch::Press)]
    touch: SimTouch,
    /// Seconds the token waits for its button before answering 6982.
    #[arg(long, value_name = "SECONDS", default_value_t = 15)]
    touch_timeout: u64,
}

fn parse_version(text: &str) -> Result<[u8; 3], String> {
    crate::profile::Version::try_from(text.to_owned()).map(|v| v.0)
}

fn parse_fault(text: &str) -> Result<(u8, u16), String> {
    let (ins, sw) = text
        .split_once('=')
        .ok_or_else(|| "expected INS=SW in hex, e.g. 01=6A84".to_owned())?;
    let ins = u8::from_str_radix(ins, 16).map_err(|e| format!("INS: {e}"))?;
    let sw = u16::from_str_radix(sw, 16).map_err(|e| format!("SW: {e}"))?;
    Ok((ins, sw))
}

pub fn run(args: SimArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let store = FileStore::new(&args.state);
    let mut personality = match args.profile {
        SimProfile::Yubikey5 => Personality::yubikey5(args.firmware.unwrap_or([5, 4, 3])),
        SimProfile::Nitrokey3 => Personality::nitrokey3(args.firmware.unwrap_or([4, 11, 0])),
    };
    personality.touch = match args.touch {
        SimTouch::Press => Touch::Press,
        SimTouch::Never => Touch::Never,
    };
    personality.touch_timeout = std::time::Duration::from_secs(args.touch_timeout);
    let options = CardOptions {
        chunk: usize::from(args.chunk),
        personality,
    };
    let mut token = OathApplet::open(store, OsEntropy::default(), args.serial, options)
        .with_context(|| t!("opening-file", file = args.state.display().to_string()))?;
    let serial = token.state().serial;
    writeln!(
        out,
        "{}",
        t!("sim-serving", serial = serial, vpcd = args.vpcd)
    )?;
    out.flush()?;
    let faults = Faults {
        drop_after: args.drop_after,
        process_dropped: args.process_dropped,
        fail_ins: args.fail_ins,
    };
    vpcd::serve(&mut token, &args.vpcd, faults)?;
    Ok(())
}
