//! `keyward sim`: run the virtual token against a vpcd reader until killed.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::oath::sim::vpcd::{self, Faults};
use crate::oath::sim::{CardOptions, FileStore, OathApplet, OsEntropy};

#[derive(Debug, Args)]
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
    let options = CardOptions {
        chunk: usize::from(args.chunk),
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
