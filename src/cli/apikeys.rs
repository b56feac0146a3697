//! `keyward apikeys`: API keys and their roles (admin).

use std::io::Write;

use clap::Subcommand;

use serde_json::json;

use super::common::{done, or_dash, show, show_list, Column, DaemonCommand};
use crate::client::Client;
use crate::domain::Role;
use crate::wire::apikeys::{ApiKeyEntry, NewKeyBody};

const API_KEY_COLUMNS: &[Column<'static, ApiKeyEntry>] = &[
    ("ID", |k| k.id.to_string()),
    ("NAME", |k| k.name.clone()),
    ("ROLE", |k| k.role.as_str().to_owned()),
    ("PERSON", |k| or_dash(k.person.as_ref())),
    ("DISTRICT", |k| or_dash(k.district.as_ref())),
    ("READERS", |k| k.readers.join(",")),
    ("CREATED", |k| k.created_at.to_string()),
    ("REVOKED", |k| or_dash(k.revoked_at)),
];

#[derive(Debug, Subcommand)]
pub enum ApiKeysCommand {
    /// Creates a key; it is printed once, alone on the last line.
    #[command(
        after_help = "Examples:\n  keyward apikeys create --name desk-alice --role desk --person amartin\n  keyward apikeys create --name ien-est --role inspector --person pmartin --district D-EST\n  keyward apikeys create --name station-1 --role station --reader \"Virtual PCD 00 00\""
    )]
    Create {
        #[arg(long)]
        name: String,
        #[arg(long, value_enum)]
        role: Role,
        /// The person the key belongs to (roles admin, desk and inspector;
        /// their acts, receipts and audit entries name that person).
        #[arg(long, value_name = "LOGIN")]
        person: Option<String>,
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

impl DaemonCommand for ApiKeysCommand {
    fn send(self, client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
        match self {
            ApiKeysCommand::Create {
                name,
                role,
                person,
                district,
                readers,
            } => {
                let body = NewKeyBody {
                    name,
                    person,
                    role: role.as_str().to_owned(),
                    district,
                    readers: (!readers.is_empty()).then_some(readers),
                };
                let answer = client.create_api_key(&body)?;
                // The one place a key is printed: the user asked for it, once.
                show(out, json, &answer, |out, v| {
                    writeln!(
                        out,
                        "API key {} ({}) created; it is shown only now:",
                        v.id,
                        v.role.as_str()
                    )?;
                    writeln!(out, "{}", v.key.as_str())
                })
            }
            ApiKeysCommand::List => show_list(out, json, &client.api_keys()?, API_KEY_COLUMNS),
            ApiKeysCommand::Revoke { id } => {
                client.revoke_api_key(&id)?;
                done(
                    out,
                    json,
                    &json!({"revoked": id}),
                    &format!("API key {id} revoked"),
                )
            }
        }
    }
}
