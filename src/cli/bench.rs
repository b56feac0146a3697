//! `keyward bench`: a verify load generator against a running daemon over
//! loopback, by HTTP (`verify`) or RADIUS (`radius`), and the setup that gives it credentials whose secrets it knows.
//!
//! `setup` writes holders, appointments, active HOTP credentials and PINs
//! straight into a data directory through the store (as the desk, then as
//! each holder), before the daemon starts, and saves what the generator needs
//! (login, PIN, secret, next counter) in a private file. It is a test tool:
//! those secrets exist only on this machine, in that 0600 file.
//!
//! `verify` runs `concurrency` workers for `seconds`; each owns a share of the
//! credentials so it knows their next counter. Every request is either a
//! fresh valid passcode (must be accepted), a wrong code, or a replay of the
//! worker's last accepted passcode (both must be rejected; an accepted replay
//! is a double accept). No credential sees two failures in a row, and each
//! run starts every credential with a valid code, so none reaches the
//! failure delay or the lock however many runs follow. The generator
//! rewrites the credentials file with the counters it reached, so runs can
//! follow each other on the same daemon.
//!
//! Before the daemon, `verify` loads a floor (`floor`): a bare handler
//! served in-process by the same HTTP shell, with the same workers; the
//! report gives both rates, their ratio and the workers' CPU time.
//! `--idle-connections N` holds N hostile connections meanwhile (`hostile`).
//!
//! A developer's tool: its report is the measurement's figures under the
//! English labels the README and the benchmarks quote, in every `--lang`
//! (`--json` for scripts), rather than messages of the catalogue.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, Subcommand};
use zeroize::Zeroizing;

use super::common::{Connection, Exit};
use crate::client::ClientError;
use crate::domain::{Actor, Clock as _, Date, MailAddress, PersonId, RightOrigin, Uai};
use crate::otp::CredentialParams;
use crate::otp::{code_at, Algorithm, CredentialKey, Digits, Secret};
use crate::store::{Config, Store, SystemClock};

mod floor;
mod hostile;
mod radius_verifier;
mod raw_verifier;
mod report;
#[cfg(test)]
mod tests;

use radius_verifier::RadiusVerifier;
use raw_verifier::RawVerifier;
pub use report::{FloorFigures, Report};

/// One worker's connection to the daemon: HTTP or RADIUS.
trait Verifier: Send + 'static {
    /// `Ok(true)` accept, `Ok(false)` reject.
    fn verify(&mut self, login: &str, passcode: &str, source: &str) -> Result<bool, ClientError>;
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Creates N holders with an appointment and an active HOTP credential in
    /// a data directory (daemon stopped), and writes their secrets and PINs to
    /// a private file for `bench verify`.
    #[command(
        after_help = "Example:\n  keyward init --data ./bench-data\n  keyward bench setup --data ./bench-data --holders 1000 --out ./bench-credentials\n  keyward serve --data ./bench-data &\n  KEYWARD_API_KEY=<gateway key> keyward bench verify --credentials ./bench-credentials"
    )]
    Setup {
        #[arg(long, default_value = "./keyward-data")]
        data: PathBuf,
        #[arg(long, default_value_t = 1000)]
        holders: usize,
        /// The authority's mail domain [default: the data directory's config].
        #[arg(long)]
        domain: Option<String>,
        /// Where to write the credentials (created 0600; must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Sends verifies for SECONDS at CONCURRENCY: fresh valid passcodes plus a
    /// share of wrong ones and replays; reports verifies/s, p50/p99 latency,
    /// accepts, rejects, double accepts and 5xx. Exits 1 if any replay was
    /// accepted, any valid code rejected or any 5xx seen.
    #[command(
        after_help = "Example:\n  KEYWARD_API_KEY=<gateway key> keyward bench verify --credentials ./bench-credentials --seconds 30 --concurrency 32"
    )]
    Verify {
        #[command(flatten)]
        load: LoadArgs,
        /// Another daemon serving the same store (a node on the same
        /// PostgreSQL database), with the same API key: the workers are
        /// spread over the daemon and these in turn. Repeatable.
        #[arg(long = "also", value_name = "URL")]
        also: Vec<String>,
    },
    /// The same load as `bench verify`, as RADIUS Access-Requests from the
    /// local client (the secret file `keyward init` wrote); reports
    /// Access-Requests/s and latency. Exits 1 as `bench verify` does.
    #[command(
        after_help = "Example:\n  keyward bench radius --credentials ./bench-credentials --secret-file ./bench-data/radius-local.secret --seconds 30 --concurrency 32"
    )]
    Radius {
        #[command(flatten)]
        load: LoadArgs,
        /// The RADIUS server.
        #[arg(long, default_value = "127.0.0.1:1812")]
        server: std::net::SocketAddr,
        /// The client's shared secret, in a 0600 file.
        #[arg(long)]
        secret_file: PathBuf,
    },
}

/// The load both generators send.
#[derive(Debug, Args)]
pub struct LoadArgs {
    #[arg(long)]
    credentials: PathBuf,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Share of requests that must be rejected (wrong codes and replays).
    #[arg(long, default_value_t = 0.3)]
    wrong: f64,
    /// Hold N hostile connections to the daemon during the run, half idle
    /// and half trickling a request head (from 127.0.0.2 and up), to
    /// measure verify beside them.
    #[arg(long, value_name = "N", default_value_t = 0)]
    idle_connections: usize,
}

pub fn run(command: BenchCommand, conn: &Connection, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        BenchCommand::Setup {
            data,
            holders,
            domain,
            out: file,
        } => setup(&data, holders, domain.as_deref(), &file, out),
        BenchCommand::Verify { load: args, also } => {
            let client = conn.client();
            // Worker i asks daemon i mod n: the daemon, then each other node.
            let mut daemons = vec![conn.client()];
            daemons.extend(also.iter().map(|url| conn.client_of(url)));
            let mut next = 0usize;
            let to_daemons = || {
                let daemon = &daemons[next % daemons.len()];
                next += 1;
                RawVerifier::new(daemon)
            };
            // The floor first, with the same generator and concurrency.
            let bare = floor::Floor::start()?;
            let addr = bare.addr;
            let mut to_floor = || RawVerifier::new(&client).map(|v| v.to(addr));
            let hostile = match args.idle_connections {
                0 => None,
                n => Some(hostile::Hostile::start(daemon_address(&client)?, n)?),
            };
            if hostile.is_some() {
                // Let them connect before measuring.
                std::thread::sleep(Duration::from_secs(2));
            }
            let mut report = load(to_daemons, Some(&mut to_floor), &args)?;
            report.daemons = daemons.len();
            if let Some(hostile) = hostile {
                report.hostile = Some((
                    args.idle_connections,
                    hostile.reopened.load(Ordering::Relaxed),
                ));
            }
            drop(bare);
            finish(&report.labelled("verify load"), conn.json, out)
        }
        BenchCommand::Radius {
            load: args,
            server,
            secret_file,
        } => {
            let mut secret = crate::secure_fs::read_private_file(&secret_file, 1024)
                .with_context(|| format!("reading {}", secret_file.display()))?;
            while matches!(secret.last(), Some(b'\n' | b'\r')) {
                secret.pop();
            }
            let report = load(
                || RadiusVerifier::new(server, &secret),
                None::<&mut dyn FnMut() -> anyhow::Result<RadiusVerifier>>,
                &args,
            )?;
            finish(&report.labelled("RADIUS load"), conn.json, out)
        }
    }
}

/// The daemon's socket address, from an `http://HOST:PORT` base URL.
fn daemon_address(client: &crate::client::Client) -> anyhow::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs as _;
    let base = client.base();
    let host = base
        .strip_prefix("http://")
        .unwrap_or(base)
        .split('/')
        .next()
        .unwrap_or_default();
    host.to_socket_addrs()?
        .next()
        .with_context(|| format!("no address for {host}"))
}

/// Prints the report; exit 1 on any double accept, server error or valid
/// code rejected.
fn finish(report: &Report, json: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report.to_json())?)?;
    } else {
        report.print(out)?;
    }
    if report.double_accepts > 0 || report.server_errors > 0 || report.valid_rejected > 0 {
        return Err(Exit(1).into());
    }
    Ok(())
}

fn random_u32() -> anyhow::Result<u32> {
    let mut bytes = [0u8; 4];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| anyhow::anyhow!("the OS random generator failed"))?;
    Ok(u32::from_le_bytes(bytes))
}

/// A random PIN the policy accepts.
fn random_pin() -> anyhow::Result<Zeroizing<String>> {
    loop {
        let pin = Zeroizing::new(format!("{:06}", random_u32()? % 1_000_000));
        if crate::crypto::pin::Pin::parse(&pin).is_ok() {
            return Ok(pin);
        }
    }
}

const BENCH_SCHOOL: &str = "0750001U";
const BENCH_DISTRICT: &str = "BENCH";

fn setup(
    data: &std::path::Path,
    holders: usize,
    domain: Option<&str>,
    file: &std::path::Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let config = match domain {
        Some(domain) => Config::new(domain),
        None => crate::config::DaemonConfig::load(data)?.store,
    };
    let domain = config.authority_domain.clone();
    let domain = domain.as_str();
    // Rights start on the authority's local day.
    let today = Date::local(SystemClock.now(), &config.time_zone);
    let store = Store::open(data, Arc::new(SystemClock), config)
        .with_context(|| format!("opening {} (stop the daemon first)", data.display()))?;
    // The desk operator the bench acts as (receipts name a person).
    let desk_person = PersonId::parse("bench-desk")?;
    let desk = Actor::Desk(desk_person.clone());
    let inspector = PersonId::parse("bench-ien")?;
    let mut lines = Zeroizing::new(String::new());
    let uai = Uai::parse(BENCH_SCHOOL)?;
    store.write(&desk, "bench setup: district", |tx| {
        tx.add_person(
            &desk_person,
            "Bench Desk",
            &MailAddress::parse(&format!("bench-desk@{domain}"))?,
        )?;
        tx.add_person(
            &inspector,
            "Bench Inspector",
            &MailAddress::parse(&format!("bench-ien@{domain}"))?,
        )?;
        tx.add_district(BENCH_DISTRICT, "Bench district", &inspector)?;
        tx.add_school(&uai, "Bench school", BENCH_DISTRICT)
    })?;
    // Large transactions (one commit per thousand holders), short enough
    // to keep the write lock a second or two; synced once at the end (a
    // setup that fails midway leaves a store to throw away).
    let bench = BenchSchool {
        desk,
        inspector,
        uai,
        domain,
        today,
    };
    store.with_bulk_load(|| add_holders(&store, &bench, holders, &mut lines))??;
    crate::secure_fs::create_private_file(file, lines.as_bytes())
        .with_context(|| format!("writing {}", file.display()))?;
    writeln!(
        out,
        "bench: {holders} holders with active HOTP keys; credentials in {}",
        file.display()
    )?;
    Ok(())
}

/// Who `bench setup` acts as, and where its holders' rights are.
struct BenchSchool<'a> {
    desk: Actor,
    inspector: PersonId,
    uai: Uai,
    domain: &'a str,
    today: Date,
}

/// Adds `holders` holders with active keys, a thousand per transaction;
/// their logins, PINs and secrets go to `lines`.
fn add_holders(
    store: &Store,
    bench: &BenchSchool<'_>,
    holders: usize,
    lines: &mut String,
) -> anyhow::Result<()> {
    let BenchSchool {
        desk,
        inspector,
        uai,
        domain,
        today,
    } = bench;
    let today = *today;
    for chunk in (0..holders).collect::<Vec<_>>().chunks(1000) {
        store.write(desk, "bench setup: holders", |tx| {
            for &i in chunk {
                let login = format!("bench{i:05}");
                let person = PersonId::parse(&login)?;
                tx.act_as(desk.clone());
                tx.add_person(
                    &person,
                    &format!("Bench Holder {i}"),
                    &MailAddress::parse(&format!("{login}@{domain}"))?,
                )?;
                // Deputies of the bench school (one appointed director per school).
                tx.act_as(Actor::Inspector(inspector.clone()));
                tx.grant_right(RightOrigin::Delegation, &person, uai, today, None)?;
                tx.act_as(desk.clone());
                let serial = format!("B{i:07}");
                tx.add_token(&serial, "keyward-virtual")?;
                let secret = Secret::generate(Algorithm::Sha1)?;
                tx.prepare_token(&serial, &person, &secret, CredentialParams::hotp())?;
                let key = CredentialKey::new(Algorithm::Sha1, &secret);
                tx.handover(&serial, "bench", &code_at(&key, 0, Digits::SIX).to_string())?;
                let pin =
                    random_pin().map_err(|_| crate::store::StoreError::Corrupt("no randomness"))?;
                tx.act_as(Actor::Holder(person.clone()));
                tx.activate(&serial, &pin)?;
                lines.push_str(&format!(
                    "{login} {} {} 1\n",
                    pin.as_str(),
                    data_encoding::HEXLOWER.encode(secret.expose())
                ));
            }
            Ok(())
        })?;
    }
    Ok(())
}

/// Rewrites the credentials file (0600, atomically) with the counters reached.
fn save_credentials(path: &std::path::Path, credentials: &[Credential]) -> anyhow::Result<()> {
    let mut text = Zeroizing::new(String::new());
    for c in credentials {
        text.push_str(&format!(
            "{} {} {} {}\n",
            c.login,
            c.pin.as_str(),
            c.secret_hex.as_str(),
            c.counter
        ));
    }
    let tmp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&tmp);
    crate::secure_fs::create_private_file(&tmp, text.as_bytes())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))?;
    Ok(())
}

struct Credential {
    login: String,
    pin: Zeroizing<String>,
    secret_hex: Zeroizing<String>,
    key: CredentialKey,
    counter: u64,
    last_accepted: Option<Zeroizing<String>>,
    failed_last: bool,
}

fn read_credentials(path: &std::path::Path) -> anyhow::Result<Vec<Credential>> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let mut credentials = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [login, pin, secret_hex, counter] = fields[..] else {
            anyhow::bail!(
                "{}:{}: expected `login pin secret counter`",
                path.display(),
                n + 1
            );
        };
        let secret = Secret::from_hex(secret_hex)
            .with_context(|| format!("{}:{}: secret", path.display(), n + 1))?;
        credentials.push(Credential {
            login: login.to_owned(),
            pin: Zeroizing::new(pin.to_owned()),
            secret_hex: Zeroizing::new(secret_hex.to_owned()),
            key: CredentialKey::new(Algorithm::Sha1, &secret),
            counter: counter
                .parse()
                .with_context(|| format!("{}:{}: counter", path.display(), n + 1))?,
            last_accepted: None,
            failed_last: false,
        });
    }
    anyhow::ensure!(
        !credentials.is_empty(),
        "{} holds no credential",
        path.display()
    );
    Ok(credentials)
}

#[derive(Debug, Default)]
struct Tally {
    latencies_us: Vec<u32>,
    accepts: u64,
    rejects: u64,
    valid_rejected: u64,
    wrong_accepted: u64,
    double_accepts: u64,
    server_errors: u64,
    other_errors: u64,
    rate_limited: u64,
    /// Requests whose answer never came (connection broken, timeout, 408):
    /// the daemon may have carried them out.
    answers_lost: u64,
    first_error: Option<String>,
    /// CPU time the worker threads used (the generator's own cost).
    cpu_ns: u64,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        self.accepts += other.accepts;
        self.rejects += other.rejects;
        self.valid_rejected += other.valid_rejected;
        self.wrong_accepted += other.wrong_accepted;
        self.double_accepts += other.double_accepts;
        self.server_errors += other.server_errors;
        self.other_errors += other.other_errors;
        self.rate_limited += other.rate_limited;
        self.answers_lost += other.answers_lost;
        self.cpu_ns += other.cpu_ns;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// A code of the right length that is none of the next `look_ahead + 1`
/// codes of this credential (so it must be rejected).
fn wrong_code(credential: &Credential, salt: u32) -> String {
    let window: Vec<String> = (0..=20)
        .map(|i| code_at(&credential.key, credential.counter + i, Digits::SIX).to_string())
        .collect();
    let mut candidate = salt % 1_000_000;
    loop {
        let text = format!("{candidate:06}");
        if !window.contains(&text) {
            return text;
        }
        candidate = (candidate + 1) % 1_000_000;
    }
}

fn worker<V: Verifier>(
    mut client: V,
    mut credentials: Vec<Credential>,
    deadline: Instant,
    wrong: f64,
    stop: Arc<AtomicBool>,
) -> (Tally, Vec<Credential>) {
    let mut tally = Tally::default();
    // P(wrong | previous ok) so that the stationary share is `wrong` with no
    // two failures in a row: q / (1 + q) = wrong.
    let threshold = (wrong / (1.0 - wrong) * f64::from(u32::MAX)) as u64;
    let mut i = 0usize;
    let mut rng = random_u32().unwrap_or(0x9E37_79B9) | 1;
    while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
        let n = credentials.len();
        let Some(credential) = credentials.get_mut(i % n) else {
            break;
        };
        i += 1;
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        let send_wrong = !credential.failed_last && u64::from(rng) < threshold;
        let (passcode, kind) = if send_wrong {
            match (&credential.last_accepted, rng % 5) {
                // A replay: refused even when a counter still ahead shows
                // the same six digits (the policy refuses the last accepted
                // code whatever step shows it).
                (Some(previous), 0) => (previous.clone(), 2u8),
                _ => (
                    Zeroizing::new(format!(
                        "{}{}",
                        credential.pin.as_str(),
                        wrong_code(credential, rng)
                    )),
                    1u8,
                ),
            }
        } else {
            let mut code = code_at(&credential.key, credential.counter, Digits::SIX).to_string();
            // About once in 10^6 accepts a key's next code shows the digits
            // just accepted; the policy refuses it as already used and the
            // holder presses again: so does the generator.
            let repeats = |last: &Zeroizing<String>| last.ends_with(code.as_str());
            if credential.last_accepted.as_ref().is_some_and(repeats) {
                credential.counter += 1;
                code = code_at(&credential.key, credential.counter, Digits::SIX).to_string();
            }
            (
                Zeroizing::new(format!("{}{code}", credential.pin.as_str())),
                0u8,
            )
        };
        let started = Instant::now();
        // Each holder logs in from a few addresses of their own, as behind a
        // gateway: the run measures verification, not the per-source limiter
        // (50 failures a minute per address), which a holder retrying 30 %
        // wrong codes many times a second would otherwise reach.
        // The address changes every round over the holders (not with the
        // request's index: with 16 holders a worker, each holder would
        // always come from the same one).
        let source = format!("bench-{}-{}", credential.login, (i / n) % 16);
        let answer = client.verify(&credential.login, &passcode, &source);
        let elapsed = started.elapsed();
        tally
            .latencies_us
            .push(u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX));
        match answer {
            Ok(true) => {
                tally.accepts += 1;
                match kind {
                    0 => {
                        credential.counter += 1;
                        credential.last_accepted = Some(passcode);
                        credential.failed_last = false;
                    }
                    2 => tally.double_accepts += 1,
                    _ => tally.wrong_accepted += 1,
                }
            }
            Ok(false) => {
                tally.rejects += 1;
                if kind == 0 {
                    tally.valid_rejected += 1;
                    if tally.first_error.is_none() {
                        tally.first_error =
                            Some(format!("a valid code of {} was rejected", credential.login));
                    }
                    credential.failed_last = true;
                } else {
                    credential.failed_last = true;
                }
            }
            Err(err) => {
                let status = match &err {
                    ClientError::Protocol { status, .. } => Some(*status),
                    other => other.status(),
                };
                match status {
                    Some(500..=599) => tally.server_errors += 1,
                    Some(429) => tally.rate_limited += 1,
                    Some(0 | 408) => tally.answers_lost += 1,
                    _ => tally.other_errors += 1,
                }
                if tally.first_error.is_none() {
                    tally.first_error = Some(err.to_string());
                }
                if kind == 0 && outcome_unknown(status) {
                    // The daemon may have accepted this code before its
                    // answer was lost: sending it again would be a replay,
                    // rightly rejected, and not a valid code rejected. The
                    // next code is accepted either way (look-ahead).
                    credential.counter += 1;
                    credential.last_accepted = None;
                }
                credential.failed_last = true;
                if matches!(err, ClientError::Unreachable { .. }) {
                    stop.store(true, Ordering::Relaxed);
                }
            }
        }
    }
    tally.cpu_ns = thread_cpu_ns();
    (tally, credentials)
}

/// Whether an error leaves unknown if the daemon carried the request out:
/// no answer at all (status 0: connection broken, timeout), a request
/// timeout, or a server error. A 4xx other than 408 is a refusal.
fn outcome_unknown(status: Option<u16>) -> bool {
    matches!(status, None | Some(0 | 408 | 500..=599))
}

/// CPU time this thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    u64::try_from(t.tv_sec)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::try_from(t.tv_nsec).unwrap_or(0))
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[rank.min(sorted.len() - 1)]) / 1000.0
}

/// One phase of workers over `shares` until `duration` has passed: what
/// they measured, the shares as they left them, and the wall time.
fn run_phase<V: Verifier>(
    connect: &mut dyn FnMut() -> anyhow::Result<V>,
    shares: Vec<Vec<Credential>>,
    duration: Duration,
    wrong: f64,
) -> anyhow::Result<(Tally, Vec<Vec<Credential>>, f64)> {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let deadline = started + duration;
    let handles = shares
        .into_iter()
        .map(|share| -> anyhow::Result<_> {
            let verifier = connect()?;
            let stop = stop.clone();
            Ok(std::thread::spawn(move || {
                worker(verifier, share, deadline, wrong, stop)
            }))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut tally = Tally::default();
    let mut after = Vec::with_capacity(handles.len());
    for handle in handles {
        let (part, credentials) = handle
            .join()
            .map_err(|_| anyhow::anyhow!("a load worker panicked"))?;
        tally.merge(part);
        after.push(credentials);
    }
    let seconds = started.elapsed().as_secs_f64();
    tally.latencies_us.sort_unstable();
    Ok((tally, after, seconds))
}

/// A phase starts with a valid code for every holder (as if the last
/// answer was a failure), and the worker never sends two wrong codes in a
/// row to one holder: however many runs follow each other, no holder has
/// more than one failure in a row, far below the delay threshold (3).
fn start_clean(shares: &mut [Vec<Credential>]) {
    for credential in shares.iter_mut().flatten() {
        credential.failed_last = true;
    }
}

/// The generator's CPU use as a share of one core.
fn cores(tally: &Tally, seconds: f64) -> f64 {
    tally.cpu_ns as f64 / 1e9 / seconds.max(1e-9)
}

fn load<V: Verifier>(
    mut connect: impl FnMut() -> anyhow::Result<V>,
    floor: Option<&mut dyn FnMut() -> anyhow::Result<V>>,
    args: &LoadArgs,
) -> anyhow::Result<Report> {
    let (path, concurrency, wrong) = (&args.credentials, args.concurrency, args.wrong);
    let duration = Duration::from_secs(args.seconds);
    anyhow::ensure!(concurrency > 0, "--concurrency must be at least 1");
    anyhow::ensure!((0.0..0.5).contains(&wrong), "--wrong must be in [0, 0.5)");
    let credentials = read_credentials(path)?;
    let count = credentials.len();
    anyhow::ensure!(
        count >= concurrency,
        "{count} credentials for {concurrency} workers: run bench setup with more holders"
    );
    let mut shares: Vec<Vec<Credential>> = (0..concurrency).map(|_| Vec::new()).collect();
    for (i, c) in credentials.into_iter().enumerate() {
        shares[i % concurrency].push(c);
    }
    // The bare handler answers every code "reject": counters stay put.
    let floor = match floor {
        Some(connect_floor) => {
            start_clean(&mut shares);
            let floor_duration = duration.min(Duration::from_secs(10));
            let (tally, back, seconds) = run_phase(connect_floor, shares, floor_duration, wrong)?;
            shares = back;
            Some(FloorFigures {
                seconds,
                per_second: tally.latencies_us.len() as f64 / seconds,
                p99_ms: percentile(&tally.latencies_us, 0.99),
                generator_cores: cores(&tally, seconds),
            })
        }
        None => None,
    };
    start_clean(&mut shares);
    let (tally, after, seconds) = run_phase(&mut connect, shares, duration, wrong)?;
    let after: Vec<Credential> = after.into_iter().flatten().collect();
    // The next run starts where this one stopped (HOTP counters moved on).
    save_credentials(path, &after)?;
    let requests = tally.latencies_us.len() as u64;
    let generator_cores = cores(&tally, seconds);
    Ok(Report {
        label: "verify load",
        seconds,
        concurrency,
        credentials: count,
        requests,
        per_second: requests as f64 / seconds,
        p50_ms: percentile(&tally.latencies_us, 0.50),
        p99_ms: percentile(&tally.latencies_us, 0.99),
        max_ms: percentile(&tally.latencies_us, 1.0),
        accepts: tally.accepts,
        rejects: tally.rejects,
        valid_rejected: tally.valid_rejected,
        wrong_accepted: tally.wrong_accepted,
        double_accepts: tally.double_accepts,
        server_errors: tally.server_errors,
        rate_limited: tally.rate_limited,
        answers_lost: tally.answers_lost,
        other_errors: tally.other_errors,
        first_error: tally.first_error,
        generator_cores,
        floor,
        hostile: None,
        daemons: 1,
    })
}
