//! `keyward init`: a new data directory (config, master key, database,
//! receipt key, the local RADIUS client's shared secret) and the first
//! admin API key, printed once.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use crate::config::{DaemonConfig, CONFIG_FILE, DEFAULT_DATA_DIR, DEFAULT_DOMAIN};
use crate::domain::Actor;
use crate::domain::Role;
use crate::radius::config::LOCAL_SECRET_FILE;
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
            anyhow::bail!(
                "{} already exists and is not empty: refusing to overwrite it",
                data.display()
            );
        }
    }
    let config = DaemonConfig::new(domain)?;
    let store = Store::init(data, Arc::new(SystemClock), config.store.clone())
        .with_context(|| format!("initialising {}", data.display()))?;
    crate::secure_fs::create_private_file(&data.join(CONFIG_FILE), config.to_toml().as_bytes())?;
    crate::secure_fs::create_private_file(
        &data.join(LOCAL_SECRET_FILE),
        radius_secret()?.as_bytes(),
    )?;
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

/// A RADIUS shared secret: 160 random bits as 32 base32 characters, which
/// any RADIUS client's configuration can hold.
fn radius_secret() -> anyhow::Result<zeroize::Zeroizing<String>> {
    let mut bytes = zeroize::Zeroizing::new([0u8; 20]);
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), bytes.as_mut())
        .map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    Ok(zeroize::Zeroizing::new(
        data_encoding::BASE32_NOPAD.encode(bytes.as_ref()),
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
                "radius_secret_file": done.data.join(LOCAL_SECRET_FILE).display().to_string(),
                "admin_key": key,
            })
        )?;
    } else {
        writeln!(out, "keyward: initialised {}", done.data.display())?;
        writeln!(
            out,
            "  config {CONFIG_FILE}, master key {}, database {} (receipt key sealed inside)",
            crate::store::MASTER_KEY_FILE,
            crate::store::DB_FILE
        )?;
        writeln!(
            out,
            "  RADIUS on udp://127.0.0.1:1812 for a gateway on this machine; shared secret in {}",
            done.data.join(LOCAL_SECRET_FILE).display()
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
    let (done, key) = initialise(&args.data, &args.domain)?;
    report(&done, &key, json, out)
}
