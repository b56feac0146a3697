//! `keyward apikeys`: API keys and their roles (admin).

use std::io::Write;

use clap::Subcommand;

use crate::domain::Role;
use serde_json::json;

use super::common::{body, cell, done, show, show_list, Connection};

#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Creates a key; it is printed once, alone on the last line.
    #[command(
        after_help = "Examples:\n  keyward apikeys create --name desk-alice --role desk\n  keyward apikeys create --name ien-est --role inspector --district D-EST\n  keyward apikeys create --name station-1 --role station --reader \"Virtual PCD 00 00\""
    )]
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// The inspector's district (role inspector).
        #[arg(long)]
        district: Option<String>,
        /// A reader the station may use (role station; repeat the flag).
        #[arg(long = "reader")]
        readers: Vec<String>,
    },
    /// Lists keys (never the keys themselves).
    #[command(after_help = "Example:\n  keyward apikeys list")]
    List,
    /// Revokes a key at once.
    #[command(after_help = "Example:\n  keyward apikeys revoke 3")]
    Revoke { id: String },
}

pub fn run(command: ApiKeysCommand, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    let client = conn.client();
    match command {
        ApiKeysCommand::Create {
            name,
            role,
            district,
            readers,
        } => {
            let readers = (!readers.is_empty()).then_some(readers);
            let answer = client.post(
                "/v1/apikeys",
                Some(&body(json!({"name": name, "role": role.as_str(), "district": district, "readers": readers}))),
            )?;
            // The one place a key is printed: the user asked for it, once.
            show(out, conn.json, &answer, |out, v| {
                writeln!(
                    out,
                    "API key {} ({}) created; it is shown only now:",
                    cell(v.get("id")),
                    cell(v.get("role"))
                )?;
                writeln!(out, "{}", cell(v.get("key")))
            })
        }
        ApiKeysCommand::List => {
            let answer = client.get("/v1/apikeys")?;
            show_list(
                out,
                conn.json,
                &answer,
                &[
                    ("ID", "id"),
                    ("NAME", "name"),
                    ("ROLE", "role"),
                    ("DISTRICT", "district"),
                    ("READERS", "readers"),
                    ("CREATED", "created_at"),
                    ("REVOKED", "revoked_at"),
                ],
            )
        }
        ApiKeysCommand::Revoke { id } => {
            client.delete(&super::common::segment_path(&["v1", "apikeys", &id]))?;
            done(
                out,
                conn.json,
                &json!({"revoked": id}),
                &format!("API key {id} revoked"),
            )
        }
    }
}
