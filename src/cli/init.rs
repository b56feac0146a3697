//! `keyward init`: a new data directory (config, master key, database,
//! receipt key) and the first admin API key, printed once.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use super::data_dir::DataArgs;
use crate::config::{DaemonConfig, Paths, CONFIG_FILE, DEFAULT_DOMAIN};
use crate::domain::Actor;
use crate::domain::Role;
use crate::store::{Store, SystemClock};

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyward init --data ./keyward-data --domain ac-exemple.fr\n  sudo keyward init --data /var/lib/keyward --config /etc/keyward/keyward.toml --master-key /etc/keyward/master.key   # packaged install"
)]
pub struct InitArgs {
    /// Data directory, config file and master key. With --config the file
    /// must exist (its domain is used); without it init writes keyward.toml
    /// into the data directory. With --master-key the key is created there,
    /// outside the data directory.
    #[command(flatten)]
    pub files: DataArgs,
    /// The authority's mail domain (personal addresses, help requests).
    #[arg(long, value_name = "DOMAIN", default_value = DEFAULT_DOMAIN)]
    pub domain: String,
}

/// What init created.
#[derive(Debug)]
pub struct Initialised {
    pub data: PathBuf,
    pub config: PathBuf,
    pub master_key: PathBuf,
    pub admin_key_id: i64,
}

/// Creates the data directory and returns the admin key (once). Run as
/// root on a data directory that belongs to the daemon's user (as the
/// package creates it), the new files are given to that user; a master key
/// outside the data directory stays root's, for systemd to hand over.
pub fn initialise(
    paths: &Paths,
    domain: &str,
) -> anyhow::Result<(Initialised, zeroize::Zeroizing<String>)> {
    let data = &paths.data;
    if let Ok(mut entries) = std::fs::read_dir(data) {
        if entries.next().is_some() {
            anyhow::bail!(
                "{} already exists and is not empty: refusing to overwrite it",
                data.display()
            );
        }
    }
    let own_config = paths.config == data.join(CONFIG_FILE);
    let config = if own_config {
        DaemonConfig::new(domain)?
    } else {
        DaemonConfig::load_file(&paths.config)?
    };
    let store = Store::init_keyed(
        data,
        &paths.master_key,
        Arc::new(SystemClock),
        config.store.clone(),
    )
    .with_context(|| format!("initialising {}", data.display()))?;
    if own_config {
        let path = data.join(CONFIG_FILE);
        crate::secure_fs::create_private_file(&path, config.to_toml().as_bytes())?;
        crate::secure_fs::give_to_dir_owner(data, &path)?;
    }
    let key = store.write(&Actor::System, "apikey.create", |tx| {
        tx.create_api_key("admin", Role::Admin, None, &[])
    })?;
    Ok((
        Initialised {
            data: data.to_path_buf(),
            config: paths.config.clone(),
            master_key: paths.master_key.clone(),
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
                "config": done.config.display().to_string(),
                "master_key": done.master_key.display().to_string(),
                "admin_key_id": done.admin_key_id,
                "admin_key": key,
            })
        )?;
    } else {
        writeln!(out, "keyward: initialised {}", done.data.display())?;
        writeln!(
            out,
            "  config {}, master key {}, database {} (receipt key sealed inside)",
            done.config.display(),
            done.master_key.display(),
            crate::store::DB_FILE
        )?;
        writeln!(
            out,
            "Keep the key below safe: it is shown only now (use it as KEYWARD_API_KEY)."
        )?;
        writeln!(out, "admin API key: {key}")?;
    }
    out.flush()?;
    Ok(())
}

/// `json`: the global `--json` flag (one JSON object instead of text).
pub fn run(args: InitArgs, json: bool, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let (done, key) = initialise(&args.files.paths(), &args.domain)?;
    report(&done, &key, json, out)
}
