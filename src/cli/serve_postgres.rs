//! `keyward serve` on `[store] url = "postgres://…"`: a node of several
//! sharing one PostgreSQL database (docs/postgres.md). It serves the
//! gateway's `POST /v1/verify` through its own writer (group commit, the
//! moving factor advanced by a conditional update only one node can win)
//! and `GET /v1/health`; every other route answers that it is not served
//! on PostgreSQL yet. What would need a part of the store not held in
//! PostgreSQL (RADIUS, mail, the directory sync, `--init`, devices) is
//! refused at start with a message saying which: a node never falls back
//! to an embedded SQLite store.

use std::sync::Arc;

use anyhow::Context as _;

use super::serve::{bind_listeners, ServeArgs, Switch, VirtualToken};
use crate::config::{DaemonConfig, Paths};
use crate::crypto::MasterKey;
use crate::store::backup::DaemonLock;
use crate::store::postgres::key_cache::follow_revocations;
use crate::store::postgres::ledger::PgLedger;
use crate::store::postgres::node::{NodeSettings, VerifyNode};
use crate::store::postgres::PgTarget;
use crate::{config, server};

/// Connections of a node's pool: the writer's, and the key checks'.
const POOL_SIZE: usize = 8;

/// Refuses what a node on PostgreSQL does not do yet, naming it.
fn refuse_unported(args: &ServeArgs, config: &DaemonConfig) -> anyhow::Result<()> {
    let unported = [
        (args.init, "--init"),
        (config.radius.is_some(), "[radius]"),
        (config.mail.is_some(), "[mail]"),
        (config.directory.is_some(), "[directory]"),
        (args.virtual_token == VirtualToken::On, "--virtual-token on"),
        (
            args.virtual_touch_key == Switch::On,
            "--virtual-touch-key on",
        ),
    ];
    match unported.iter().find(|(set, _)| *set) {
        Some((_, what)) => Err(anyhow::anyhow!(t!(
            "serve-postgres-not-ported",
            what = (*what).to_owned()
        ))),
        None => Ok(()),
    }
}

pub(super) fn run(
    args: &ServeArgs,
    paths: &Paths,
    config: DaemonConfig,
    target: &PgTarget,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<()> {
    refuse_unported(args, &config)?;
    if let Some(stray) = paths.stray_master_key() {
        anyhow::bail!(
            "the master key is read from {} but a copy lies in the data directory ({}): \
             move it out of the data directory",
            paths.master_key.display(),
            stray.display()
        );
    }
    let _lock = DaemonLock::acquire(&paths.data)?;
    let keys = Arc::new(
        MasterKey::load(&paths.master_key)
            .and_then(|key| key.keys())
            .with_context(|| {
                t!(
                    "opening-file",
                    file = paths.master_key.display().to_string()
                )
            })?,
    );
    let clock = config::daemon_clock();
    let listen = match args.listen {
        Some(one) => vec![one],
        None => config.listen.clone(),
    };
    let tls = match &config.tls {
        Some(files) => {
            let (certificate, key) = files.resolve(&paths.data);
            Some(server::tls::acceptor(&certificate, &key)?)
        }
        None => None,
    };
    super::serve::refuse_plain_beyond_loopback(&listen, tls.is_some())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let signalled = server::shutdown_signal();
        // A node holds the master key: it seals the rows already there if
        // it is the one that brings the row MACs (migration 6).
        let sealing = crate::store::postgres::schema::Sealing {
            keys: &keys,
            at: clock.now(),
        };
        let pool = crate::store::postgres::connect_sealing(target, POOL_SIZE, Some(sealing))
            .await
            .with_context(|| connecting_to(target))?;
        let ledger = PgLedger::new(&pool, &keys).await?;
        let settings = NodeSettings {
            name: target.node.clone(),
            totp_behind: config.store.totp_behind,
            hotp_look_ahead: config.store.hotp_look_ahead,
            time_zone: config.store.time_zone.clone(),
        };
        let node = Arc::new(VerifyNode::start(
            ledger,
            Arc::clone(&keys),
            Arc::clone(&clock),
            settings,
        )?);
        // Revoked keys leave this node's cache as soon as any node commits
        // the revoke.
        let listener = follow_revocations(target.clone(), Arc::clone(node.cache()));
        tracing::info!(node = %target.node, database = %target.dbname, "keyward node on PostgreSQL");
        writeln!(
            out,
            "keyward: node {} on PostgreSQL database {}",
            target.node, target.dbname
        )?;
        let listeners = bind_listeners(&listen, tls.as_ref(), false, out).await?;
        out.flush()?;
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        // Every verify's gateway key, checked in rounds.
        let gateway_keys =
            crate::store::postgres::gateway_keys::GatewayKeys::start(pool.clone(), Arc::clone(&keys));
        let routes = crate::api::pg_node::app(crate::api::pg_node::PgNodeState {
            pool,
            gateway_keys,
            node: Arc::clone(&node),
            clock,
            keys: Arc::clone(&keys),
            time_zone: config.store.time_zone.clone(),
            refusal_floor: config.store.refusal_floor,
            floor_clock: crate::store::verify::floor::FloorClock::start()?,
        });
        server::run(listeners, routes, config.limits, async move {
            signalled.await;
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
        })
        .await?;
        listener.abort();
        // The requests queued are answered before the node stops.
        if let Ok(node) = Arc::try_unwrap(node) {
            node.stop().await;
        }
        anyhow::Ok(())
    })?;
    tracing::info!("keyward node stopped cleanly");
    Ok(())
}

/// What a failure to reach the PostgreSQL store is said to have been
/// doing: the database and its servers, never the password.
pub(super) fn connecting_to(target: &PgTarget) -> String {
    t!(
        "serve-postgres-connect",
        database = target.dbname.clone(),
        host = target.servers_text()
    )
}
