//! Tests that every kind of refusal does the same work, seen from SQLite:
//! the same statements, in the same order, returning as many rows and
//! running as many virtual-machine steps (index seeks, rows read, rows
//! written, triggers), whether the login is known, unknown or locked and
//! whether its PIN or its code was wrong (issue 11 point 3, SPEC §5). The
//! timing bench (`benches/ct_service.rs`) measures; this pins the shape.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use rusqlite::trace::{TraceEvent, TraceEventCodes};
use rusqlite::StatementStatus;

use super::{Job, VerifyRequest, Worker};
use crate::domain::{Actor, Date, FixedClock, MailAddress, PersonId, RightOrigin, Uai, UnixTime};
use crate::otp::{code_at, Algorithm, CredentialKey, CredentialParams, Digits, Secret};
use crate::store::{connect, Config, Store};

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// One statement run: its text, which kind of counters row it touched (if
/// it is on the counters table), the rows it returned, its VM steps.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Ran {
    sql: String,
    counters: Option<&'static str>,
    rows: u32,
    steps: i64,
}

thread_local! {
    /// What the traced connection ran on this thread, and each cached
    /// statement's step count so far (SQLite's counters are cumulative).
    static RAN: RefCell<(Vec<Ran>, u32, HashMap<String, i64>)> = RefCell::default();
}

/// Whether a statement on the counters table touched a phantom slot or a
/// credential's counters ([`super::counters::slot_of`]), from its bound
/// slot: the first number after `slot = ` or `VALUES (`.
fn counters_kind(expanded: &str) -> Option<&'static str> {
    if !expanded.contains("phantom_counters") {
        return None;
    }
    let at = ["slot = ", "VALUES ("]
        .iter()
        .find_map(|m| expanded.find(m).map(|i| i + m.len()))?;
    let digits: String = expanded[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let slot: u64 = digits.parse().ok()?;
    Some(if slot >= super::phantom::SLOTS {
        "credential"
    } else {
        "phantom"
    })
}

fn on_trace(event: TraceEvent<'_>) {
    RAN.with(|ran| {
        let (list, rows, last) = &mut *ran.borrow_mut();
        match event {
            TraceEvent::Row(_) => *rows += 1,
            TraceEvent::Profile(stmt, _) => {
                let sql = stmt.sql().into_owned();
                let counters = stmt.expanded_sql().as_deref().and_then(counters_kind);
                let total = i64::from(stmt.get_status(StatementStatus::VmStep));
                let first_run = stmt.get_status(StatementStatus::Run) <= 1;
                let before = if first_run {
                    0
                } else {
                    last.get(&sql).copied().unwrap_or(0)
                };
                last.insert(sql.clone(), total);
                list.push(Ran {
                    sql,
                    counters,
                    rows: std::mem::take(rows),
                    steps: total - before,
                });
            }
            _ => {}
        }
    });
}

const PIN: &str = "730519";
const WRONG_PIN: &str = "820631";
/// 2 November 2026, 08:00 UTC.
const START: UnixTime = 1_793_606_400;

fn login(i: usize) -> String {
    format!("holder{i:03}")
}

/// A store with `n` active holders (HOTP, PIN [`PIN`], a right in force).
fn holders(dir: &std::path::Path, n: usize) -> Result<(Store, Vec<CredentialKey>), StoreErr> {
    let clock = Arc::new(FixedClock::new(START));
    let store = Store::init(&dir.join("data"), clock, Config::new("ac-exemple.fr"))?;
    let desk_person = PersonId::parse("desk")?;
    let desk = Actor::Desk(desk_person.clone());
    let keys = store.write(&desk, "test setup", |tx| {
        let mail = |l: &str| MailAddress::parse(&format!("{l}@ac-exemple.fr"));
        tx.add_person(&desk_person, "Desk", &mail("desk")?)?;
        let inspector = PersonId::parse("inspector")?;
        tx.add_person(&inspector, "Inspector", &mail("inspector")?)?;
        tx.add_district("D", "District", &inspector)?;
        let school = Uai::parse("0751710B")?;
        tx.add_school(&school, "School", "D")?;
        let mut keys = Vec::new();
        for i in 0..n {
            let id = PersonId::parse(&login(i))?;
            let serial = format!("VT-{i:03}");
            let secret = Secret::generate(Algorithm::Sha1)?;
            let key = CredentialKey::new(Algorithm::Sha1, &secret);
            tx.act_as(desk.clone());
            tx.add_person(&id, "Holder", &mail(&login(i))?)?;
            tx.act_as(Actor::Inspector(inspector.clone()));
            tx.grant_right(
                RightOrigin::Delegation,
                &id,
                &school,
                Date::parse("2020-09-01")?,
                None,
            )?;
            tx.act_as(desk.clone());
            tx.add_token(&serial, "virtual")?;
            tx.prepare_token(&serial, &id, &secret, CredentialParams::hotp())?;
            tx.handover(&serial, "test", &code_at(&key, 0, Digits::SIX).to_string())?;
            tx.act_as(Actor::Holder(id));
            tx.activate(&serial, PIN)?;
            keys.push(key);
        }
        // A right after every holder's in the rights index, so that no
        // holder's lookup is the one that ends at the index's end (one VM
        // step fewer, whoever asks).
        let last = PersonId::parse("zz-last")?;
        tx.act_as(desk.clone());
        tx.add_person(&last, "Last", &mail("zz-last")?)?;
        tx.act_as(Actor::Inspector(inspector.clone()));
        tx.grant_right(
            RightOrigin::Delegation,
            &last,
            &school,
            Date::parse("2020-09-01")?,
            None,
        )?;
        Ok(keys)
    })?;
    Ok((store, keys))
}

type StoreErr = Box<dyn std::error::Error>;

/// Decides `passcode` for `login` alone in a batch at `now`, and returns
/// what SQLite ran for it (the whole batch: its decision, its MACs renewed).
fn traced(worker: &mut Worker, now: UnixTime, login: &str, passcode: &str) -> Vec<Ran> {
    RAN.with(|ran| ran.borrow_mut().0.clear());
    let (reply, _answer) = tokio::sync::oneshot::channel();
    let job = Job {
        request: VerifyRequest::new(login, passcode),
        reply,
    };
    let decided = worker.decide_batch(now, &mut vec![job], None);
    assert!(decided.is_ok_and(|(answers, _)| !answers[0].0.is_accept()));
    RAN.with(|ran| std::mem::take(&mut ran.borrow_mut().0))
}

/// The statements in order (with the kind of counters row each touches),
/// and per statement the rows returned and VM steps run in all: one
/// request's lookups find its record first and a name nobody holds second,
/// an unknown login's the other way round, so rows and steps are compared
/// per statement, not per position.
type Shape = (
    Vec<(String, Option<&'static str>)>,
    std::collections::BTreeMap<String, (u32, i64)>,
);

fn shape(ran: &[Ran]) -> Shape {
    let mut totals = std::collections::BTreeMap::new();
    for r in ran {
        let t = totals.entry(r.sql.clone()).or_insert((0, 0));
        t.0 += r.rows;
        t.1 += r.steps;
    }
    (
        ran.iter().map(|r| (r.sql.clone(), r.counters)).collect(),
        totals,
    )
}

#[test]
fn every_kind_of_refusal_runs_the_same_statements() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (store, keys) = holders(dir.path(), 6)?;
    let mut worker = Worker::new(
        connect(&store.shared().db_path)?,
        Arc::clone(store.shared()),
        super::SyncMode::Inline,
    )?;
    worker.warm()?;
    // Holder 3 locked: ten failures, each after the delay of the last.
    let mut now = START;
    for _ in 0..10 {
        now += 3600;
        traced(&mut worker, now, &login(3), &format!("{PIN}000000"));
    }
    // A code outside holder 0's whole look-ahead window.
    let window: Vec<String> = (0..40)
        .map(|step| code_at(&keys[0], step, Digits::SIX).to_string())
        .collect();
    let wrong_code = (0..1_000_000)
        .map(|n| format!("{n:06}"))
        .find(|c| !window.contains(c))
        .unwrap_or_default();
    // Logins of one length (the caller knows the length of what it sent).
    let kinds: [(&str, String, String); 7] = [
        ("wrong code", login(0), format!("{PIN}{wrong_code}")),
        (
            "wrong PIN",
            login(1),
            format!("{WRONG_PIN}{}", code_at(&keys[1], 1, Digits::SIX)),
        ),
        (
            "wrong PIN and code",
            login(2),
            format!("{WRONG_PIN}{wrong_code}"),
        ),
        ("locked", login(3), format!("{PIN}123456")),
        ("malformed passcode", login(4), "12".to_owned()),
        (
            "unknown login",
            "ghost0001".to_owned(),
            format!("{PIN}123456"),
        ),
        (
            "not a login",
            "ghost 001".to_owned(),
            format!("{PIN}123456"),
        ),
    ];
    worker.conn.trace_v2(
        TraceEventCodes::SQLITE_TRACE_PROFILE | TraceEventCodes::SQLITE_TRACE_ROW,
        Some(on_trace),
    );
    // Every kind asked twice first, so that no first request of a name
    // (which inserts its counters rows) is compared with a repeated one;
    // then traced.
    let mut shapes = Vec::new();
    for round in 0..3 {
        for (kind, who, passcode) in &kinds {
            now += 60;
            let ran = traced(&mut worker, now, who, passcode);
            if round == 2 {
                assert!(!ran.is_empty(), "nothing traced");
                shapes.push((*kind, shape(&ran)));
            }
        }
    }
    worker.conn.trace_v2(TraceEventCodes::empty(), None);
    let (first, reference) = &shapes[0];
    for (kind, ran) in &shapes[1..] {
        assert_eq!(
            ran.0, reference.0,
            "{kind} runs other statements than {first}"
        );
        assert_eq!(ran.1, reference.1, "{kind} does other work than {first}");
    }
    Ok(())
}
