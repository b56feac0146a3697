//! `keyward otp hotp|totp`: the support desk's offline calculator.
//!
//! Output is byte-for-byte what `oathtool` prints for the same inputs: one
//! zero-padded code per line; `--window N` adds the N following codes. Unlike
//! oathtool, a counter that would pass 2^64 is an error rather than wrapping,
//! and secrets shorter than 16 bytes are refused (RFC 4226 §4).

use std::io::{BufRead, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use crate::otp::{Algorithm, CredentialKey, Digits, Hotp, OtpError, Period, Secret, Totp};

#[derive(Debug, Subcommand)]
pub enum OtpCommand {
    /// Event-based codes (RFC 4226).
    ///
    /// Example: keyward otp hotp --hex-secret 3132333435363738393031323334353637383930 --counter 0
    Hotp {
        #[command(flatten)]
        secret: SecretArgs,
        /// Counter value of the (first) code.
        #[arg(long, short = 'c')]
        counter: u64,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Time-based codes (RFC 6238).
    ///
    /// Example: keyward otp totp --secret GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ --time 59 --digits 8
    Totp {
        #[command(flatten)]
        secret: SecretArgs,
        /// Unix time to compute for [default: now].
        #[arg(long, short = 'N')]
        time: Option<u64>,
        /// Time step in seconds (1 to 120).
        #[arg(long, short = 's', default_value_t = 30)]
        period: u32,
        #[command(flatten)]
        common: CommonArgs,
    },
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct SecretArgs {
    /// Shared secret in base32; "-" reads it from standard input (keeps it out of
    /// the process list).
    #[arg(long)]
    secret: Option<String>,
    /// Shared secret in hexadecimal; "-" reads it from standard input.
    #[arg(long)]
    hex_secret: Option<String>,
}

#[derive(Debug, Args)]
pub struct CommonArgs {
    /// Number of digits: 6, 7 or 8.
    #[arg(long, short = 'd', default_value_t = 6)]
    digits: u8,
    /// HMAC hash: sha1, sha256 or sha512.
    #[arg(long, short = 'a', default_value = "sha1")]
    algorithm: String,
    /// Also print the N following codes (as oathtool -w N).
    #[arg(long, short = 'w', default_value_t = 0)]
    window: u32,
}

impl CommonArgs {
    /// The code length and hash, checked.
    fn digits_and_algorithm(&self) -> anyhow::Result<(Digits, Algorithm)> {
        Ok((Digits::new(self.digits)?, self.algorithm.parse()?))
    }
}

fn read_secret(args: &SecretArgs) -> anyhow::Result<Secret> {
    type Parser = fn(&str) -> Result<Secret, OtpError>;
    let (text, parse): (&str, Parser) = match (&args.secret, &args.hex_secret) {
        (Some(b32), None) => (b32, Secret::from_base32),
        (None, Some(hex)) => (hex, Secret::from_hex),
        _ => bail!(t!("otp-one-secret")),
    };
    if text == "-" {
        let mut line = Zeroizing::new(String::new());
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .with_context(|| t!("reading-stdin"))?;
        Ok(parse(line.trim())?)
    } else {
        Ok(parse(text)?)
    }
}

fn print_codes(
    out: &mut dyn Write,
    first: u64,
    window: u32,
    code: impl Fn(u64) -> String,
) -> anyhow::Result<()> {
    first
        .checked_add(u64::from(window))
        .ok_or(OtpError::CounterOverflow)?;
    for step in first..=first + u64::from(window) {
        writeln!(out, "{}", code(step))?;
    }
    Ok(())
}

pub fn run(command: OtpCommand, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        OtpCommand::Hotp {
            secret,
            counter,
            common,
        } => {
            let (digits, algorithm) = common.digits_and_algorithm()?;
            let key = CredentialKey::new(algorithm, &read_secret(&secret)?);
            let hotp = Hotp::with_digits(digits);
            print_codes(out, counter, common.window, |c| {
                hotp.code(&key, c).to_string()
            })
        }
        OtpCommand::Totp {
            secret,
            time,
            period,
            common,
        } => {
            let (digits, algorithm) = common.digits_and_algorithm()?;
            let totp = Totp::new(digits, Period::new(period)?);
            let key = CredentialKey::new(algorithm, &read_secret(&secret)?);
            let now = match time {
                Some(t) => t,
                None => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .context("system clock is before 1970")?
                    .as_secs(),
            };
            let step = totp.step_at(now)?;
            print_codes(out, step, common.window, |s| {
                crate::otp::code_at(&key, s, digits).to_string()
            })
        }
    }
}
