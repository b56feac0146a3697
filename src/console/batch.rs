//! Batch preparation for the August meeting, run by the daemon: the desk
//! names the holders and a reader; each blank key inserted at that reader
//! is prepared for the next holder through the API's own prepare operation
//! (`POST /v1/tokens/{serial}/prepare`, run in process as the desk person
//! who started the batch: same roles, rules, refusals and audit as the API
//! and `keyward tokens batch`). A refusal is kept on the holder's line and
//! the batch goes on with the next holder (the key, still blank, serves
//! them). One batch a reader at a time; it can be cancelled.
//!
//! The progress lives in memory ([`Batches`], held by the API's state): a
//! restart of the daemon ends a running batch; the keys already prepared
//! stay prepared (they are in the store like any other).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::http::Method;
use tokio::sync::{broadcast, watch};

use super::tokens::encode;
use super::{ConsoleState, Refusal, Who};
use crate::api::Caller;
use crate::devices::DeviceEvent;
use crate::domain::TokenState;
use crate::wire::devices::DeviceEntry;
use crate::wire::tokens::PreparedToken;
use crate::wire::ErrorCode;

/// Where one holder of a batch is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Not their turn yet.
    Waiting,
    /// Their turn: a blank key is awaited at the reader.
    Insert,
    /// The key with this serial is being prepared for them.
    Preparing(String),
    /// Prepared: the key's serial.
    Prepared(String),
    /// The prepare operation refused them (the API's refusal).
    Refused(Refusal),
    /// The batch was cancelled (or ended) before their turn.
    Cancelled,
}

impl Step {
    /// The step's name in the catalogue (`console-batch-step-*`) and CSS.
    pub fn name(&self) -> &'static str {
        match self {
            Step::Waiting => "waiting",
            Step::Insert => "insert",
            Step::Preparing(_) => "preparing",
            Step::Prepared(_) => "prepared",
            Step::Refused(_) => "refused",
            Step::Cancelled => "cancelled",
        }
    }
}

/// One holder of a batch.
#[derive(Clone, Debug)]
pub struct Line {
    pub holder: String,
    pub step: Step,
}

/// What a page shows of a batch.
#[derive(Clone, Debug)]
pub struct Progress {
    pub id: u64,
    pub reader: String,
    /// Who started it (their login).
    pub by: String,
    pub lines: Vec<Line>,
    pub running: bool,
    pub cancelled: bool,
    /// The key at the reader is not blank (its serial): take it out.
    pub not_blank: Option<String>,
    /// Why the batch stopped early, when it did (a catalogue id).
    pub stopped: Option<&'static str>,
    /// Changes so far (the live page's counter).
    pub version: u64,
}

/// One batch: its progress, the signal of each change, its cancellation.
#[derive(Debug)]
pub struct Batch {
    progress: Mutex<Progress>,
    changed: watch::Sender<u64>,
    cancel: watch::Sender<bool>,
}

impl Batch {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn progress(&self) -> Progress {
        self.lock().clone()
    }

    /// A receiver told of every change (its value: the version).
    pub fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Asks the batch to stop before the next holder's key, audited as
    /// `caller`; false if it could not be audited (nothing asked).
    pub async fn cancel(&self, state: &ConsoleState, caller: &Caller) -> bool {
        let p = self.progress();
        let (store, actor) = (Arc::clone(state.app().store()), caller.actor.clone());
        let audited = tokio::task::spawn_blocking(move || {
            store.write(&actor, "console.batch.cancel", |tx| {
                tx.record_console_batch_cancel(p.id, &p.reader)
            })
        })
        .await;
        if !matches!(audited, Ok(Ok(()))) {
            return false;
        }
        self.cancel.send_replace(true);
        true
    }

    fn update(&self, change: impl FnOnce(&mut Progress)) {
        let version = {
            let mut progress = self.lock();
            change(&mut progress);
            progress.version += 1;
            progress.version
        };
        self.changed.send_replace(version);
    }

    fn step(&self, index: usize, step: Step) {
        self.update(|p| {
            if let Some(line) = p.lines.get_mut(index) {
                line.step = step;
            }
        });
    }
}

/// The batches of the daemon: the last one of each reader, by id.
#[derive(Debug, Default)]
pub struct Batches {
    all: Mutex<HashMap<u64, Arc<Batch>>>,
    next: AtomicU64,
}

/// Why a batch could not start.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    /// Another batch is running at that reader (its id).
    Busy(u64),
    /// No holder chosen.
    Nobody,
    /// The start could not be audited: nothing started.
    Audit,
}

impl Batches {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Batch>>> {
        self.all.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn forget(&self, id: u64) {
        self.lock().remove(&id);
    }

    pub fn get(&self, id: u64) -> Option<Arc<Batch>> {
        self.lock().get(&id).cloned()
    }

    /// Every batch kept (running or the last finished one of a reader),
    /// newest first.
    pub fn list(&self) -> Vec<Progress> {
        let mut all: Vec<Progress> = self.lock().values().map(|b| b.progress()).collect();
        all.sort_by_key(|p| std::cmp::Reverse(p.id));
        all
    }

    /// Records a new batch at `reader` for `holders` (in order, each once),
    /// unless one is running there; the finished one it replaces is
    /// forgotten.
    fn open(&self, reader: &str, by: &str, holders: Vec<String>) -> Result<Arc<Batch>, StartError> {
        let mut seen = std::collections::HashSet::new();
        let holders: Vec<String> = holders
            .into_iter()
            .filter(|h| !h.is_empty() && seen.insert(h.clone()))
            .collect();
        if holders.is_empty() {
            return Err(StartError::Nobody);
        }
        let mut all = self.lock();
        if let Some(running) = all
            .values()
            .map(|b| b.progress())
            .find(|p| p.reader == reader && p.running)
        {
            return Err(StartError::Busy(running.id));
        }
        all.retain(|_, b| b.lock().reader != reader);
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let batch = Arc::new(Batch {
            progress: Mutex::new(Progress {
                id,
                reader: reader.to_owned(),
                by: by.to_owned(),
                lines: holders
                    .into_iter()
                    .map(|holder| Line {
                        holder,
                        step: Step::Waiting,
                    })
                    .collect(),
                running: true,
                cancelled: false,
                not_blank: None,
                stopped: None,
                version: 0,
            }),
            changed: watch::channel(0).0,
            cancel: watch::channel(false).0,
        });
        all.insert(id, Arc::clone(&batch));
        Ok(batch)
    }
}

/// Starts a batch at `reader` for `holders`, run by the daemon as
/// `caller` (the desk person who asked), audited; answers its id.
pub async fn start(
    state: &ConsoleState,
    caller: &Caller,
    reader: &str,
    holders: Vec<String>,
) -> Result<u64, StartError> {
    let by = caller
        .api_key
        .person
        .clone()
        .unwrap_or_else(|| caller.api_key.name.clone());
    let batches = state.app().console_batches();
    let batch = batches.open(reader, &by, holders)?;
    let progress = batch.progress();
    let id = progress.id;
    let holders: Vec<String> = progress.lines.iter().map(|l| l.holder.clone()).collect();
    let (store, actor, at) = (
        Arc::clone(state.app().store()),
        caller.actor.clone(),
        reader.to_owned(),
    );
    let audited = tokio::task::spawn_blocking(move || {
        store.write(&actor, "console.batch.start", |tx| {
            tx.record_console_batch_start(id, &at, &holders)
        })
    })
    .await;
    if !matches!(audited, Ok(Ok(()))) {
        batches.forget(id);
        return Err(StartError::Audit);
    }
    // Subscribe before looking at the reader, so no insertion falls between.
    let events = state.app().devices().subscribe();
    tokio::spawn(run(state.clone(), caller.clone(), batch, events));
    Ok(id)
}

/// Is this key one the batch may prepare (unknown to keyward or in stock)?
fn blank(device: &DeviceEntry) -> Option<String> {
    match device.state {
        None | Some(TokenState::Stock) => device.serial.clone(),
        _ => None,
    }
}

/// How the wait for the next key ended.
enum Wait {
    Inserted,
    Cancelled,
    Stopped(&'static str),
}

async fn run(
    state: ConsoleState,
    caller: Caller,
    batch: Arc<Batch>,
    mut events: broadcast::Receiver<DeviceEvent>,
) {
    let reader = batch.progress().reader;
    let count = batch.progress().lines.len();
    let mut cancel = batch.cancel.subscribe();
    let mut stopping = state.app().stopping();
    let mut current = device_at(&state, &caller, &reader).await;
    let mut index = 0;
    let mut stopped = None;
    'holders: while index < count {
        if *cancel.borrow() {
            break;
        }
        batch.step(index, Step::Insert);
        let serial = loop {
            if let Some(device) = current.take() {
                match blank(&device) {
                    Some(serial) => break serial,
                    None => batch.update(|p| p.not_blank = device.serial.clone()),
                }
            }
            let wait = tokio::select! {
                wait = next_insertion(&mut events, &reader) => wait,
                _ = cancel.wait_for(|c| *c) => Wait::Cancelled,
                _ = stopping.wait_for(|s| *s) => Wait::Stopped("console-batch-stopped-shutdown"),
            };
            match wait {
                Wait::Inserted => current = device_at(&state, &caller, &reader).await,
                Wait::Cancelled => break 'holders,
                Wait::Stopped(why) => {
                    stopped = Some(why);
                    break 'holders;
                }
            }
        };
        batch.update(|p| p.not_blank = None);
        if !still_allowed(&state, &caller).await {
            stopped = Some("console-batch-stopped-revoked");
            break;
        }
        batch.step(index, Step::Preparing(serial.clone()));
        let holder = batch.progress().lines[index].holder.clone();
        let path = format!("/v1/tokens/{}/prepare", encode(&serial));
        let body = serde_json::json!({"holder": holder, "reader": reader});
        match state
            .call::<PreparedToken>(Who::Session(&caller), Method::POST, &path, Some(body))
            .await
        {
            Ok(done) => {
                batch.step(index, Step::Prepared(done.serial));
                // This key is used: the next holder waits for the next one.
                index += 1;
            }
            Err(r)
                if matches!(
                    r.code,
                    Some(ErrorCode::DeviceError | ErrorCode::DeviceAbsent)
                ) =>
            {
                // The key failed or was taken out: the same holder waits
                // for the next key.
                batch.update(|p| p.not_blank = Some(serial.clone()));
                batch.step(index, Step::Insert);
            }
            Err(r) => {
                batch.step(index, Step::Refused(r));
                // The key is still blank: it serves the next holder.
                current = device_at(&state, &caller, &reader).await;
                index += 1;
            }
        }
    }
    let cancelled = *cancel.borrow();
    batch.update(|p| {
        p.running = false;
        p.cancelled = cancelled;
        p.stopped = stopped;
        p.not_blank = None;
        for line in &mut p.lines {
            if matches!(line.step, Step::Waiting | Step::Insert) {
                line.step = Step::Cancelled;
            }
        }
    });
}

/// Waits for a key to be inserted at `reader` (or made blank there).
async fn next_insertion(events: &mut broadcast::Receiver<DeviceEvent>, reader: &str) -> Wait {
    loop {
        match events.recv().await {
            Ok(DeviceEvent::Inserted { reader: at, .. }) if at == reader => return Wait::Inserted,
            // A key wiped and restocked where it sits is blank again.
            Ok(DeviceEvent::TokenState {
                state: TokenState::Stock,
                reader: Some(at),
                ..
            }) if at == reader => return Wait::Inserted,
            // Events were missed: look at the reader again.
            Err(broadcast::error::RecvError::Lagged(_)) => return Wait::Inserted,
            Ok(_) => continue,
            Err(broadcast::error::RecvError::Closed) => {
                return Wait::Stopped("console-batch-stopped-shutdown")
            }
        }
    }
}

/// Is the key of the person who started the batch still live (not
/// revoked, its person not departed)? A batch outlives its page and its
/// session, not its author's rights.
async fn still_allowed(state: &ConsoleState, caller: &Caller) -> bool {
    let (store, id) = (Arc::clone(state.app().store()), caller.api_key.id);
    let live = tokio::task::spawn_blocking(move || {
        store.read(|tx| {
            let Some(key) = tx.api_key_by_id(id)? else {
                return Ok(false);
            };
            let left = match key.person.as_deref().map(crate::domain::PersonId::parse) {
                Some(Ok(p)) => tx.has_left(&p)?,
                _ => false,
            };
            Ok(key.revoked_at.is_none() && !left)
        })
    })
    .await;
    matches!(live, Ok(Ok(true)))
}

/// The key at `reader` now, as `GET /v1/devices` tells the caller.
async fn device_at(state: &ConsoleState, caller: &Caller, reader: &str) -> Option<DeviceEntry> {
    state
        .call::<Vec<DeviceEntry>>(Who::Session(caller), Method::GET, "/v1/devices", None)
        .await
        .ok()?
        .into_iter()
        .find(|d| d.reader == reader && d.present)
}
