//! `keyward serve`: the daemon. Opens the data directory (refusing unsafe
//! permissions), starts the device manager (PC/SC watcher and, when asked or
//! when no reader exists, the in-process virtual reader), serves the v1 API
//! (and RADIUS when configured) and shuts down gracefully on SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use super::data_dir::DataArgs;
use super::init;
use crate::api::AppState;
use crate::config::{self, DaemonConfig};
use crate::devices::{DeviceManager, VirtualDevice, VIRTUAL_READER, VIRTUAL_STATE_FILE};
use crate::domain::Clock;
use crate::radius::RadiusService;
use crate::server;
use crate::store::backup::DaemonLock;
use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VirtualToken {
    /// Attach the virtual token when no PC/SC reader is present.
    Auto,
    On,
    Off,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  keyward serve --init --data ./keyward-data\n  keyward serve --data /var/lib/keyward --config /etc/keyward/keyward.toml   # as systemd runs it"
)]
pub struct ServeArgs {
    #[command(flatten)]
    pub files: DataArgs,
    /// Address to listen on (default: the config file's, 127.0.0.1:7390).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Address RADIUS listens on (default: the config file's `[radius]`
    /// listen); ignored unless the config file has a `[radius]` table.
    #[arg(long, value_name = "ADDR")]
    pub radius_listen: Option<SocketAddr>,
    /// In-process virtual token "keyward virtual reader".
    #[arg(long, value_enum, default_value_t = VirtualToken::Auto)]
    pub virtual_token: VirtualToken,
    /// Watch PC/SC readers (off: only the virtual token, if any).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub pcsc: Switch,
    /// Watch USB HID touch keys (YubiKey OTP slots), as readers `hid:<serial>`.
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub hid: Switch,
    /// Attach a simulated touch key (`hid:<serial>`, state in memory only) for
    /// a walk-through without hardware; `POST /v1/devices/{reader}/touch`
    /// touches it.
    #[arg(long, value_enum, default_value_t = Switch::Off)]
    pub virtual_touch_key: Switch,
    /// Initialise the data directory first if it does not exist (prints the
    /// admin key once).
    #[arg(long)]
    pub init: bool,
    /// Authority mail domain, with --init.
    #[arg(long, value_name = "DOMAIN", default_value = config::DEFAULT_DOMAIN)]
    pub domain: String,
}

fn pcsc_readers() -> Option<Vec<String>> {
    crate::oath::driver::pcsc::Pcsc::establish()
        .ok()
        .and_then(|p| p.readers().ok())
}

/// Plain HTTP carries API keys and PINs in clear: only on loopback.
pub(super) fn refuse_plain_beyond_loopback(listen: &[SocketAddr], tls: bool) -> anyhow::Result<()> {
    match listen.iter().find(|a| !a.ip().is_loopback()) {
        Some(address) if !tls => Err(anyhow::anyhow!(t!(
            "serve-plain-beyond-loopback",
            address = address.to_string()
        ))),
        _ => Ok(()),
    }
}

pub(super) async fn bind_listeners(
    listen: &[SocketAddr],
    tls: Option<&server::TlsAcceptor>,
    attach_virtual: bool,
    out: &mut dyn std::io::Write,
) -> anyhow::Result<Vec<server::Listener>> {
    let mut listeners = Vec::with_capacity(listen.len());
    for &address in listen {
        let tcp = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| t!("serve-listen", address = address.to_string()))?;
        let addr = tcp.local_addr()?;
        tracing::info!(%addr, virtual_token = attach_virtual, tls = tls.is_some(), "keyward serving");
        // A fixed line, in every language: supervisors and tests wait for it.
        let scheme = if tls.is_some() { "https" } else { "http" };
        writeln!(out, "keyward: listening on {scheme}://{addr}")?;
        listeners.push(server::Listener {
            tcp,
            tls: tls.cloned(),
        });
    }
    Ok(listeners)
}

pub fn run(args: ServeArgs, out: &mut dyn std::io::Write) -> anyhow::Result<()> {
    let paths = args.files.paths();
    let data = paths.data.clone();
    // A node on PostgreSQL (docs/postgres.md): nothing of SQLite is opened.
    if paths.config.exists() {
        let config = DaemonConfig::load_file(&paths.config)?;
        if let crate::store::postgres::StoreBackend::Postgres(target) = &config.backend {
            let target = target.clone();
            return super::serve_postgres::run(&args, &paths, config, &target, out);
        }
    }
    if args.init && !data.join(crate::store::DB_FILE).exists() {
        let (done, key) = init::initialise(&paths, &args.domain, &init::FirstAdmin::default())?;
        init::report(&done, &key, false, out)?;
    }
    if let Some(stray) = paths.stray_master_key() {
        anyhow::bail!(
            "the master key is read from {} but a copy lies in the data directory ({}): \
             move it out of the data directory",
            paths.master_key.display(),
            stray.display()
        );
    }
    let config = DaemonConfig::load_file(&paths.config)?;
    if let crate::store::postgres::StoreBackend::Postgres(target) = &config.backend {
        // Written by --init just now: served as a node all the same.
        let target = target.clone();
        return super::serve_postgres::run(&args, &paths, config, &target, out);
    }
    let clock: Arc<dyn Clock> = config::daemon_clock();
    let _lock = DaemonLock::acquire(&data)?;
    let store = Arc::new(
        Store::open_keyed(
            &data,
            &paths.master_key,
            Arc::clone(&clock),
            config.store.clone(),
        )
        .with_context(|| t!("opening-file", file = data.display().to_string()))?,
    );
    let profiles = crate::profile::builtin()?;
    let devices = DeviceManager::new(Arc::clone(&store), Arc::clone(&clock), profiles);
    let readers = match args.pcsc {
        Switch::On => pcsc_readers(),
        Switch::Off => None,
    };
    let attach_virtual = match args.virtual_token {
        VirtualToken::On => true,
        VirtualToken::Off => false,
        VirtualToken::Auto => readers.as_ref().is_none_or(Vec::is_empty),
    };
    if attach_virtual {
        let device = VirtualDevice::open(&data.join(VIRTUAL_STATE_FILE))
            .with_context(|| t!("serve-virtual-token"))?;
        devices.attach(VIRTUAL_READER, Arc::new(device))?;
    }
    if args.virtual_touch_key == Switch::On {
        devices
            .attach_virtual_touch_key()
            .with_context(|| t!("serve-touch-key"))?;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = readers.is_some().then(|| {
        let devices = Arc::clone(&devices);
        let stop = Arc::clone(&stop);
        std::thread::Builder::new()
            .name("keyward-pcsc-watch".into())
            .spawn(move || {
                // pcscd may restart: watch again until shutdown.
                while !stop.load(Ordering::SeqCst) {
                    if let Err(err) = devices.watch_pcsc(Arc::clone(&stop)) {
                        tracing::warn!(error = %err, "PC/SC watcher stopped; retrying");
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                }
            })
    });
    let hid_watcher = match args.hid {
        Switch::On => Some(crate::devices::hid_key::spawn_hid_watcher(
            &devices,
            crate::devices::hid_key::builtin_touch_key_profile()?,
            &stop,
        )?),
        Switch::Off => None,
    };
    let state = AppState::new(Arc::clone(&store), Arc::clone(&devices), clock)?;
    let mail = crate::mail::daemon::MailDaemon::new(config.mail.as_ref())?;
    if let Some(directory) = &config.directory {
        state.set_directory(directory.clone());
    }
    let radius = match &config.radius {
        Some(radius) => {
            let clients = radius.load_clients(&data)?;
            let listen = args
                .radius_listen
                .map_or_else(|| radius.listen.clone(), |one| vec![one]);
            let service = RadiusService::new(clients, radius.rights_attribute, state.clone());
            let radsec = match &radius.radsec {
                Some(radsec) => Some((radsec.clone(), radsec.tls(&data)?)),
                None => None,
            };
            Some((listen, Arc::new(service), radsec))
        }
        None => None,
    };
    let listen = match args.listen {
        Some(one) => vec![one],
        None => config.listen.clone(),
    };
    let tls = match &config.tls {
        Some(files) => {
            let (certificate, key) = files.resolve(&data);
            Some(server::tls::acceptor(&certificate, &key)?)
        }
        None => None,
    };
    refuse_plain_beyond_loopback(&listen, tls.is_some())?;
    let open_files = server::raise_open_files_limit();
    tracing::debug!(open_files, "open files limit");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let signalled = server::shutdown_signal();
        let (stop_radius, radius_stopped) = tokio::sync::watch::channel(false);
        let mail_tasks = mail.spawn(&store, &radius_stopped);
        let radius_task = match radius {
            Some((listen, service, radsec)) => {
                if let Some((radsec, tls)) = radsec {
                    let mut listeners = Vec::with_capacity(radsec.listen.len());
                    for address in &radsec.listen {
                        let listener = tokio::net::TcpListener::bind(address)
                            .await
                            .with_context(|| format!("listening for RadSec on {address}"))?;
                        writeln!(out, "keyward: RadSec on tcp://{}", listener.local_addr()?)?;
                        listeners.push(listener);
                    }
                    tokio::spawn(crate::radius::radsec::serve(
                        listeners,
                        tls,
                        Arc::new(radsec.clients),
                        Arc::clone(&service),
                        radius_stopped.clone(),
                    ));
                }
                let mut sockets = Vec::with_capacity(listen.len());
                for address in listen {
                    let socket = tokio::net::UdpSocket::bind(address)
                        .await
                        .with_context(|| format!("listening for RADIUS on {address}"))?;
                    writeln!(out, "keyward: RADIUS on udp://{}", socket.local_addr()?)?;
                    sockets.push(socket);
                }
                Some(tokio::spawn(crate::radius::serve(
                    sockets,
                    service,
                    radius_stopped,
                )))
            }
            None => None,
        };
        // The academic directory sync on its schedule (docs/directory.md).
        let directory_task = config.directory.clone().and_then(|directory| {
            let every = directory.every?;
            let metrics_state = state.clone();
            Some(tokio::spawn(crate::directory::sync::schedule(
                Arc::clone(&store),
                directory,
                every,
                move |report| metrics_state.metrics().directory_run(report),
            )))
        });
        let listeners = bind_listeners(&listen, tls.as_ref(), attach_virtual, out).await?;
        out.flush()?;
        // Type=notify: systemd counts the service started from here on.
        // Without NOTIFY_SOCKET (not under systemd) this does nothing.
        let _ = sd_notify::notify(&[sd_notify::NotifyState::Ready]);
        let shutdown_state = state.clone();
        // The API under /v1 and the web console under / (src/console).
        let routes = crate::console::with_api(state.clone(), crate::console::Settings::default());
        server::run(listeners, mail.layer(routes), config.limits, async move {
            signalled.await;
            let _ = sd_notify::notify(&[sd_notify::NotifyState::Stopping]);
            shutdown_state.begin_shutdown();
            stop_radius.send_replace(true);
        })
        .await?;
        if let Some(task) = radius_task {
            let _ = task.await;
        }
        for task in mail_tasks {
            let _ = task.await;
        }
        if let Some(task) = directory_task {
            task.abort();
        }
        anyhow::Ok(())
    })?;
    stop.store(true, Ordering::SeqCst);
    if let Some(Ok(handle)) = watcher {
        let _ = handle.join();
    }
    if let Some(handle) = hid_watcher {
        let _ = handle.join();
    }
    drop(state);
    drop(devices);
    // Everything committed is in the WAL; fold it into the database file.
    store.checkpoint()?;
    // The head as the daemon leaves it, signed, outside the database: a
    // tail deleted while it is stopped shows against this line.
    store.write_audit_checkpoint().with_context(|| {
        format!(
            "writing the audit checkpoint to {}",
            store.audit_checkpoint_file().display()
        )
    })?;
    tracing::info!("keyward stopped cleanly");
    Ok(())
}
