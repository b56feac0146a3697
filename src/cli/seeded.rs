//! `keyward tokens import` and `keyward tokens bind`: factory-seeded tokens
//! from a vendor's PSKC file (`docs/pskc.md`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use zeroize::Zeroizing;

use super::common::{done, or_dash, show_list};
use crate::client::Client;
use crate::wire::tokens::{BindBody, ImportBody, ImportedEntry};

/// `keyward tokens import FILE`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The vendor's PSKC file (RFC 6030).
    file: PathBuf,
    /// Checks the whole file and lists what would be imported; stores nothing.
    #[arg(long)]
    dry_run: bool,
    /// A file holding the pre-shared AES key, in hexadecimal.
    #[arg(long, conflicts_with = "passphrase_file")]
    key_file: Option<PathBuf>,
    /// A file holding the passphrase (first line).
    #[arg(long)]
    passphrase_file: Option<PathBuf>,
}

/// `keyward tokens bind SERIAL --holder H --code C`.
#[derive(Debug, Clone, clap::Args)]
pub struct BindArgs {
    /// The serial printed on the token.
    serial: String,
    #[arg(long)]
    holder: String,
    /// The code the token shows now (press its button).
    #[arg(long)]
    code: String,
    /// The replacement request this token fulfils (help request, case 3).
    #[arg(long)]
    replacement: Option<i64>,
}

fn secret_file(path: &PathBuf) -> anyhow::Result<Zeroizing<String>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or("").trim().to_owned(),
    ))
}

impl ImportArgs {
    pub fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        let pskc = std::fs::read_to_string(&self.file)
            .with_context(|| format!("reading {}", self.file.display()))?;
        let body = ImportBody {
            dry_run: Some(self.dry_run),
            key_hex: self.key_file.as_ref().map(secret_file).transpose()?,
            passphrase: self.passphrase_file.as_ref().map(secret_file).transpose()?,
            pskc,
        };
        let answer = client.import_tokens(&body)?;
        if !json {
            let verb = if answer.dry_run {
                "would be imported (nothing stored)"
            } else {
                "imported"
            };
            writeln!(out, "{} token(s) {verb}:", answer.tokens.len())?;
        }
        show_list(
            out,
            json,
            &answer.tokens,
            &[
                ("SERIAL", |t: &ImportedEntry| t.serial.clone()),
                ("KEY ID", |t| t.key_id.clone()),
                ("KIND", |t| t.kind.as_str().to_owned()),
                ("ALGORITHM", |t| t.algorithm.clone()),
                ("DIGITS", |t| t.digits.to_string()),
                ("PERIOD", |t| or_dash(t.period)),
                ("MANUFACTURER", |t| or_dash(t.manufacturer.as_ref())),
                ("MODEL", |t| or_dash(t.model.as_ref())),
            ],
        )
    }
}

impl BindArgs {
    pub fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        let answer = client.bind(
            &self.serial,
            &BindBody {
                code: Zeroizing::new(self.code),
                holder: self.holder,
                replacement: self.replacement,
            },
        )?;
        let message = format!(
            "token {} bound to {}: prepared, ready for handover",
            answer.serial, answer.holder
        );
        done(out, json, &answer, &message)
    }
}
