//! `keyward apikeys`: API keys and their roles (admin).

use std::io::Write;

use clap::Subcommand;

use serde_json::json;

use super::common::{done, or_dash, print_json, show, table, word, Column, DaemonCommand};
use crate::client::Client;
use crate::domain::Role;
use crate::wire::apikeys::{ApiKeyEntry, NewKeyBody};

/// A key as listed, its times in the authority's time zone.
struct Listed {
    key: ApiKeyEntry,
    created: String,
    revoked: Option<String>,
}

const API_KEY_COLUMNS: &[Column<'static, Listed>] = &[
    ("col-id", |k| k.key.id.to_string()),
    ("col-name", |k| k.key.name.clone()),
    ("col-role", |k| word("role", k.key.role.as_str())),
    ("col-person", |k| or_dash(k.key.person.as_ref())),
    ("col-district", |k| or_dash(k.key.district.as_ref())),
    ("col-readers", |k| k.key.readers.join(",")),
    ("col-created", |k| k.created.clone()),
    ("col-revoked", |k| or_dash(k.revoked.as_ref())),
];

/// `GET /v1/apikeys` as a table (times shown to people, in the zone the
/// daemon names) or the server's JSON.
fn list(client: &Client, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let keys = client.api_keys()?;
    if json {
        return print_json(out, &keys);
    }
    let zone = client.time_zone()?;
    let shown = |time: u64| crate::i18n::date_time(super::lang(), time, &zone);
    let rows: Vec<Listed> = keys
        .into_iter()
        .map(|key| Listed {
            created: shown(key.created_at),
            revoked: key.revoked_at.map(shown),
            key,
        })
        .collect();
    table(out, &rows, API_KEY_COLUMNS)?;
    Ok(())
}

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
                    let role = word("role", v.role.as_str());
                    writeln!(out, "{}", t!("apikey-created", id = v.id, role = role))?;
                    writeln!(out, "{}", v.key.as_str())
                })
            }
            ApiKeysCommand::List => list(client, json, out),
            ApiKeysCommand::Revoke { id } => {
                client.revoke_api_key(&id)?;
                done(
                    out,
                    json,
                    &json!({"revoked": id}),
                    &t!("apikey-revoked", id = id),
                )
            }
        }
    }
}
