//! `keyward init`: a new data directory (config, master key, database,
//! receipt key, the local RADIUS client's shared secret) and the first
//! admin API key, printed once.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::Args;

use super::data_dir::DataArgs;
use crate::config::{DaemonConfig, Paths, CONFIG_FILE, DEFAULT_DOMAIN};
use crate::domain::{Actor, MailAddress, PersonId, Role};
use crate::radius::config::LOCAL_SECRET_FILE;
use crate::store::{Store, SystemClock};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  keyward init --data ./keyward-data --domain ac-exemple.fr --admin-id jmartin --admin-name \"Jean Martin\"
  keyward init --data ./keyward-data --add-admin --admin-id jmartin   # existing directory, daemon stopped
  sudo keyward init --data /var/lib/keyward --config /etc/keyward/keyward.toml --master-key /etc/keyward/master.key   # packaged install")]
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
    #[command(flatten)]
    pub admin: FirstAdmin,
    /// Add the administrator given by --admin-* to an existing data directory
    /// (daemon stopped) and print their key: after an upgrade, admin and desk
    /// keys made before keys belonged to people are refused.
    #[arg(long)]
    pub add_admin: bool,
    /// Also create a self-signed TLS certificate for NAME (a host name or
    /// an IP address; repeat for more) and its key in the data directory,
    /// and serve HTTPS with them (`[tls]`): for a first try; a certificate
    /// from the authority's CA replaces it in production.
    #[arg(long, value_name = "NAME")]
    pub self_signed_tls: Vec<String>,
}

/// The person the first admin key belongs to, recorded by init (every staff
/// key belongs to a person).
#[derive(Debug, Clone, Args)]
pub struct FirstAdmin {
    /// Login of the first administrator.
    #[arg(long = "admin-id", value_name = "LOGIN", default_value = "admin")]
    pub id: String,
    /// Full name of the first administrator.
    #[arg(
        long = "admin-name",
        value_name = "NAME",
        default_value = "Administrateur keyward"
    )]
    pub name: String,
    /// Personal mail address of the first administrator [default: LOGIN@DOMAIN].
    #[arg(long = "admin-mail", value_name = "MAIL")]
    pub mail: Option<String>,
}

impl Default for FirstAdmin {
    fn default() -> Self {
        FirstAdmin {
            id: "admin".to_owned(),
            name: "Administrateur keyward".to_owned(),
            mail: None,
        }
    }
}

/// What init created.
#[derive(Debug)]
pub struct Initialised {
    pub data: PathBuf,
    pub config: PathBuf,
    pub master_key: PathBuf,
    pub admin_key_id: i64,
    /// The path of the first admin's one-time console link
    /// (`/bootstrap/…`), to open after the daemon's address.
    pub console_link: zeroize::Zeroizing<String>,
}

/// Creates the data directory and returns the admin key (once). Run as
/// root on a data directory that belongs to the daemon's user (as the
/// package creates it), the new files are given to that user; a master key
/// outside the data directory stays root's, for systemd to hand over.
pub fn initialise(
    paths: &Paths,
    domain: &str,
    admin: &FirstAdmin,
) -> anyhow::Result<(Initialised, zeroize::Zeroizing<String>)> {
    let data = &paths.data;
    if let Ok(mut entries) = std::fs::read_dir(data) {
        if entries.next().is_some() {
            anyhow::bail!(t!("init-not-empty", dir = data.display().to_string()));
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
    .with_context(|| t!("init-initialising", dir = data.display().to_string()))?;
    if own_config {
        let path = data.join(CONFIG_FILE);
        crate::secure_fs::create_private_file(&path, config.to_toml().as_bytes())?;
        crate::secure_fs::give_to_dir_owner(data, &path)?;
    }
    let secret = data.join(LOCAL_SECRET_FILE);
    crate::secure_fs::create_private_file(&secret, radius_secret()?.as_bytes())?;
    crate::secure_fs::give_to_dir_owner(data, &secret)?;
    admin_key_for(&store, paths, domain, admin)
}

/// Records `admin` as a person (unless recorded already) and creates an
/// admin key for them, acting as keyward itself.
fn admin_key_for(
    store: &Store,
    paths: &Paths,
    domain: &str,
    admin: &FirstAdmin,
) -> anyhow::Result<(Initialised, zeroize::Zeroizing<String>)> {
    let admin_id = PersonId::parse(&admin.id)?;
    let admin_mail = MailAddress::parse(
        &admin
            .mail
            .clone()
            .unwrap_or_else(|| format!("{admin_id}@{domain}")),
    )?;
    let (key, link) = store.write(&Actor::System, "apikey.create", |tx| {
        if tx.person(&admin_id).is_err() {
            tx.add_person(&admin_id, &admin.name, &admin_mail)?;
        }
        let key = tx.create_api_key("admin", Role::Admin, None, &[], Some(&admin_id))?;
        let link = tx.create_console_bootstrap(key.record.id)?;
        Ok((key, link))
    })?;
    Ok((
        Initialised {
            data: paths.data.clone(),
            config: paths.config.clone(),
            master_key: paths.master_key.clone(),
            admin_key_id: key.record.id,
            console_link: zeroize::Zeroizing::new(format!("/bootstrap/{}", link.as_str())),
        },
        key.key,
    ))
}

/// An admin key for `admin` in an existing data directory, daemon stopped:
/// the way back in when the admin keys of an upgraded directory belong to
/// nobody.
pub fn add_admin(
    paths: &Paths,
    admin: &FirstAdmin,
) -> anyhow::Result<(Initialised, zeroize::Zeroizing<String>)> {
    let config = DaemonConfig::load_file(&paths.config)?.store;
    let domain = config.authority_domain.clone();
    let data = &paths.data;
    let store = Store::open_keyed(data, &paths.master_key, Arc::new(SystemClock), config)
        .with_context(|| format!("opening {} (stop the daemon first)", data.display()))?;
    admin_key_for(&store, paths, &domain, admin)
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
                "config": done.config.display().to_string(),
                "master_key": done.master_key.display().to_string(),
                "admin_key_id": done.admin_key_id,
                "console_link": done.console_link.as_str(),
                "radius_secret_file": done.data.join(LOCAL_SECRET_FILE).display().to_string(),
                "admin_key": key,
            })
        )?;
    } else {
        let dir = done.data.display().to_string();
        writeln!(out, "{}", t!("init-done", dir = dir))?;
        let files = t!(
            "init-files",
            config = done.config.display().to_string(),
            master = done.master_key.display().to_string(),
            db = crate::store::DB_FILE
        );
        writeln!(out, "  {files}")?;
        let radius = done.data.join(LOCAL_SECRET_FILE).display().to_string();
        writeln!(out, "  {}", t!("init-radius", file = radius))?;
        let link = done.console_link.as_str();
        writeln!(out, "  {}", t!("init-console-link", path = link))?;
        writeln!(out, "{}", t!("init-keep-key"))?;
        // The key stays alone at the end of the last line.
        writeln!(out, "{} {key}", t!("init-admin-key"))?;
    }
    out.flush()?;
    Ok(())
}

/// `json`: the global `--json` flag (one JSON object instead of text).
pub fn run(args: InitArgs, json: bool, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let paths = args.files.paths();
    let (done, key) = if args.add_admin {
        add_admin(&paths, &args.admin)?
    } else {
        initialise(&paths, &args.domain, &args.admin)?
    };
    if !args.self_signed_tls.is_empty() {
        // With --json, stdout stays one JSON document.
        let mut sink = std::io::sink();
        let said: &mut dyn std::io::Write = if json { &mut sink } else { out };
        self_signed_tls(&paths, &args.self_signed_tls, said)?;
    }
    report(&done, &key, json, out)
}

/// Writes a self-signed certificate and its key (both 0600) into the data
/// directory and a `[tls]` table naming them at the end of the data
/// directory's config file (or says what to add to a config file elsewhere).
fn self_signed_tls(
    paths: &crate::config::Paths,
    names: &[String],
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    use crate::server::tls::TlsFiles;
    let (certificate, key) = crate::server::tls::self_signed(names)?;
    let cert_path = paths.data.join(TlsFiles::CERTIFICATE);
    crate::secure_fs::create_private_file(&cert_path, certificate.as_bytes())?;
    crate::secure_fs::create_private_file(&paths.data.join(TlsFiles::KEY), key.as_bytes())?;
    let table = format!(
        "\n[tls]\ncertificate = \"{}\"\nkey = \"{}\"\n",
        TlsFiles::CERTIFICATE,
        TlsFiles::KEY
    );
    if paths.config == paths.data.join(CONFIG_FILE) {
        use std::io::Write as _;
        let mut config = std::fs::OpenOptions::new()
            .append(true)
            .open(&paths.config)?;
        config.write_all(table.as_bytes())?;
        writeln!(
            out,
            "{}",
            t!("init-tls", certificate = cert_path.display().to_string())
        )?;
    } else {
        writeln!(
            out,
            "{}",
            t!(
                "init-tls-add",
                certificate = cert_path.display().to_string(),
                config = paths.config.display().to_string(),
                table = table.trim().to_owned()
            )
        )?;
    }
    Ok(())
}
