//! `keyward receipts`: `verify` checks an exported receipt offline,
//! `public-key` reads the receipt key of a data directory, `show` fetches a
//! receipt from the daemon (JSON, text or printable HTML).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};

use crate::crypto::{parse_public_key, verify_receipt};

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Checks a receipt's signature against keyward's public receipt key and
    /// prints the receipt; exits with an error if it was altered or forged.
    ///
    #[command(
        after_help = "Example:\n  keyward receipts verify --public-key 3b6a…e1 receipt-12.txt"
    )]
    Verify {
        /// The receipt key's public half: 64 hex digits or base64.
        #[arg(long)]
        public_key: String,
        /// An exported receipt (the signed block; "-" reads standard input).
        file: PathBuf,
        /// The time zone the receipt's time is shown in (IANA name, e.g.
        /// America/Martinique) [default: this machine's].
        #[arg(
            long,
            value_name = "ZONE",
            env = "KEYWARD_TIME_ZONE",
            hide_env_values = true
        )]
        time_zone: Option<String>,
        /// Print the printable HTML page instead of text.
        #[arg(long)]
        html: bool,
    },
    /// Prints the public receipt key of a data directory (64 hex digits), to
    /// publish for `keyward receipts verify`.
    #[command(after_help = "Example:\n  keyward receipts public-key --data-dir ./keyward-data")]
    PublicKey {
        /// keyward's data directory.
        #[arg(long)]
        data_dir: PathBuf,
    },
    /// Fetches a receipt from the daemon: the signed export (default), text or
    /// the printable HTML page, in French or English.
    #[command(
        after_help = "Examples:\n  keyward receipts show 12 --format html --out receipt-12.html\n  keyward receipts show 12 > receipt-12.txt && keyward receipts verify --public-key KEY receipt-12.txt"
    )]
    Show {
        id: String,
        /// export: the signed block `receipts verify` checks.
        #[arg(long, value_enum, default_value_t = Format::Export)]
        format: Format,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// The signed export (`canonical` + signature), checkable offline.
    Export,
    Text,
    Html,
    Json,
}

const MAX_RECEIPT_BYTES: u64 = 64 * 1024;

fn read_input(file: &PathBuf) -> anyhow::Result<String> {
    use std::io::Read as _;
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(MAX_RECEIPT_BYTES)
            .read_to_string(&mut text)
            .with_context(|| t!("reading-file", file = "-"))?;
    } else {
        std::fs::File::open(file)
            .with_context(|| t!("opening-file", file = file.display().to_string()))?
            .take(MAX_RECEIPT_BYTES)
            .read_to_string(&mut text)
            .with_context(|| t!("reading-file", file = file.display().to_string()))?;
    }
    Ok(text)
}

/// Pulls the signed block out of a text rendering or HTML page, if the input
/// is not the bare export.
fn signed_block(text: &str) -> String {
    let unescaped = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let Some(start) = unescaped.find(crate::domain::receipt::HEADER) else {
        return text.to_owned();
    };
    let rest = &unescaped[start..];
    match rest.find("\nsignature=") {
        Some(sig) => {
            let end = rest[sig + 1..]
                .find('\n')
                .map_or(rest.len(), |e| sig + 1 + e + 1);
            rest[..end].to_owned()
        }
        None => rest.to_owned(),
    }
}

pub fn run(
    command: ReceiptCommand,
    conn: &super::common::Connection,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match command {
        ReceiptCommand::Show {
            id,
            format,
            out: file,
        } => {
            let text = fetch(&conn.client(), &id, format)?;
            match file {
                Some(path) => {
                    std::fs::write(&path, text.as_bytes())
                        .with_context(|| t!("writing-file", file = path.display().to_string()))?;
                    writeln!(out, "{}", path.display())?;
                }
                None => out.write_all(text.as_bytes())?,
            }
            Ok(())
        }
        ReceiptCommand::Verify {
            public_key,
            file,
            time_zone,
            html,
        } => {
            let key = parse_public_key(&public_key)?;
            let zone = match time_zone {
                Some(name) => jiff::tz::TimeZone::get(&name)
                    .with_context(|| format!("--time-zone {name:?}"))?,
                None => jiff::tz::TimeZone::system(),
            };
            let text = read_input(&file)?;
            let receipt = verify_receipt(&key, &signed_block(&text))?;
            let lang = super::lang();
            if html {
                out.write_all(receipt.render_html(lang, &zone).as_bytes())?;
            } else {
                let key = receipt.content.key_id.as_str();
                writeln!(out, "{}", t!("receipt-signature-valid", key = key))?;
                out.write_all(receipt.render_text(lang, &zone).as_bytes())?;
            }
            Ok(())
        }
        ReceiptCommand::PublicKey { data_dir } => {
            let key = crate::store::receipt_public_key_at(&data_dir)?;
            writeln!(out, "{}", data_encoding::HEXLOWER.encode(&key))?;
            Ok(())
        }
    }
}

/// A receipt from the daemon in the asked form, in the command line's
/// language.
pub fn fetch(client: &crate::client::Client, id: &str, format: Format) -> anyhow::Result<String> {
    let lang = super::lang().code();
    Ok(match format {
        Format::Text => client.receipt_page(id, "text", lang)?,
        Format::Html => client.receipt_page(id, "html", lang)?,
        Format::Json => {
            let receipt = client.receipt(id)?;
            let value = serde_json::to_value(&receipt)?;
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        // The canonical text followed by its signature line.
        Format::Export => client.receipt(id)?.export,
    })
}
