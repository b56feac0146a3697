//! `keyward store copy --to postgres://…`: moves a stopped daemon's
//! gateway verify state (live credentials of tokens in service, with their
//! sealed secrets, PIN verifiers, floors and counters; the gateways' API
//! keys) from its SQLite store into an empty PostgreSQL database, in one
//! transaction (docs/postgres.md, `store::postgres::copy`).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Subcommand};

use super::data_dir::DataArgs;
use crate::config::DaemonConfig;
use crate::crypto::MasterKey;
use crate::domain::Clock;
use crate::store::backup::DaemonLock;
use crate::store::postgres::{ledger::PgLedger, StoreBackend};
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy a stopped daemon's gateway verify state (credentials in
    /// service, gateway API keys) into an empty PostgreSQL database.
    #[command(
        after_help = "Example:\n  keyward store copy --data /var/lib/keyward --to postgres://keyward@db1:5432/keyward?sslmode=verify-full --password-file /etc/keyward/postgres.password --ca-file /etc/keyward/postgres-ca.pem"
    )]
    Copy(CopyArgs),
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub files: DataArgs,
    /// The PostgreSQL database (postgres://USER@HOST[:PORT]/DATABASE).
    #[arg(long, value_name = "URL")]
    pub to: String,
    /// The file holding the database user's password (0600, one line).
    #[arg(long, value_name = "FILE")]
    pub password_file: PathBuf,
    /// The PEM file of the CA that signed the server's certificate (with
    /// sslmode=verify-full in the URL).
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
}

pub fn run(command: StoreCommand, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    match command {
        StoreCommand::Copy(args) => copy(args, out),
    }
}

fn copy(args: CopyArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let target =
        match StoreBackend::from_keys(&args.to, Some(&args.password_file), args.ca_file.as_deref())
        {
            Ok(StoreBackend::Postgres(target)) => target,
            Ok(StoreBackend::Sqlite) => anyhow::bail!(t!("store-copy-not-postgres")),
            Err(err) => return Err(anyhow::anyhow!(err)),
        };
    let paths = args.files.paths();
    // The store's settings; a data directory without a config file has
    // the defaults (only what is read matters here).
    let store_config = if paths.config.exists() {
        DaemonConfig::load_file(&paths.config)?.store
    } else {
        crate::store::Config::new(crate::config::DEFAULT_DOMAIN)
    };
    let clock: Arc<dyn Clock> = crate::config::daemon_clock();
    // The daemon is stopped: nothing changes in SQLite while it is copied.
    let _lock = DaemonLock::acquire(&paths.data)?;
    let store = Store::open_keyed(
        &paths.data,
        &paths.master_key,
        Arc::clone(&clock),
        store_config,
    )
    .with_context(|| t!("opening-file", file = paths.data.display().to_string()))?;
    let export = store.read(|tx| tx.export_for_postgres())?;
    let keys = MasterKey::load(&paths.master_key)?.keys()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let copied = runtime.block_on(async {
        let sealing = crate::store::postgres::schema::Sealing {
            keys: &keys,
            at: clock.now(),
        };
        let pool = crate::store::postgres::connect_sealing(&target, 1, Some(sealing)).await?;
        let mut ledger = PgLedger::new(&pool, &keys).await?;
        crate::store::postgres::copy::import(&mut ledger, &keys, &export, clock.now(), "cli").await
    })?;
    writeln!(
        out,
        "{}",
        t!(
            "store-copied",
            credentials = copied.credentials,
            keys = copied.gateway_keys,
            rights = copied.rights,
            skipped = copied.not_in_service,
            database = target.dbname.clone()
        )
    )?;
    Ok(())
}
