//! `keyward init`: a new data directory (config, master key, database,
//! receipt key) and the first admin API key, printed once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use crate::config::{DaemonConfig, CONFIG_FILE, DEFAULT_DATA_DIR, DEFAULT_DOMAIN};
use crate::domain::Actor;
use crate::domain::Role;
use crate::store::{Store, SystemClock};

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  keyward init --data ./keyward-data --domain ac-exemple.fr")]
pub struct InitArgs {
    /// Data directory to create (must not hold a keyward database yet).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data: PathBuf,
    /// The authority's mail domain (personal addresses, help requests).
    #[arg(long, value_name = "DOMAIN", default_value = DEFAULT_DOMAIN)]
    pub domain: String,
}

/// What init created.
#[derive(Debug)]
pub struct Initialised {
    pub data: PathBuf,
    pub admin_key_id: i64,
}

/// Creates the data directory and returns the admin key (once).
pub fn initialise(
    data: &Path,
    domain: &str,
) -> anyhow::Result<(Initialised, zeroize::Zeroizing<String>)> {
    if let Ok(mut entries) = std::fs::read_dir(data) {
        if entries.next().is_some() {
            anyhow::bail!(t!("init-not-empty", dir = data.display().to_string()));
        }
    }
    let config = DaemonConfig::new(domain)?;
    let store = Store::init(data, Arc::new(SystemClock), config.store.clone())
        .with_context(|| t!("init-initialising", dir = data.display().to_string()))?;
    crate::secure_fs::create_private_file(&data.join(CONFIG_FILE), config.to_toml().as_bytes())?;
    let key = store.write(&Actor::System, "apikey.create", |tx| {
        tx.create_api_key("admin", Role::Admin, None, &[])
    })?;
    Ok((
        Initialised {
            data: data.to_path_buf(),
            admin_key_id: key.record.id,
        },
        key.key,
    ))
}

/// Prints what init did, the admin key alone at the end of the last line.
pub fn report(
    done: &Initialised,
    key: &str,
    json: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({
                "data_dir": done.data.display().to_string(),
                "config": done.data.join(CONFIG_FILE).display().to_string(),
                "admin_key_id": done.admin_key_id,
                "admin_key": key,
            })
        )?;
    } else {
        let dir = done.data.display().to_string();
        writeln!(out, "{}", t!("init-done", dir = dir))?;
        let files = t!(
            "init-files",
            config = CONFIG_FILE,
            master = crate::store::MASTER_KEY_FILE,
            db = crate::store::DB_FILE
        );
        writeln!(out, "  {files}")?;
        writeln!(out, "{}", t!("init-keep-key"))?;
        // The key stays alone at the end of the last line.
        writeln!(out, "{} {key}", t!("init-admin-key"))?;
    }
    out.flush()?;
    Ok(())
}

/// `json`: the global `--json` flag (one JSON object instead of text).
pub fn run(args: InitArgs, json: bool, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let (done, key) = initialise(&args.data, &args.domain)?;
    report(&done, &key, json, out)
}
