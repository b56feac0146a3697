//! Deciding one request: the evidence (PIN, whole window, replay, rights,
//! counters), the policy's decision, the counters' write and the audit.

use rusqlite::Connection;

use super::evidence::{possession, Against, Window};
use super::refusals::{Problem, RefusalKind};
use super::{reason_label, Decider, VerifyOutcome, VerifyRequest};
use crate::domain::rights::in_force;
use crate::domain::verify_policy::{decide, learned_drift, Decision, Evidence, Purpose, Reason};
use crate::domain::{CredentialInfo, PersonId, RightRecord, TokenState, UnixTime};
use crate::otp::{Digits, OtpKind};
use crate::store::audit::{AuditEntry, AuditHead};
use crate::store::ops::{credential_from_row, right_at, unseal_key, CREDENTIAL_COLUMNS};
use crate::store::ops::{ChallengeProbe, ProbeFacts};
use crate::store::ops::{RIGHT_COLUMNS, RIGHT_FIELDS};
use crate::store::StoreError;

struct Found {
    credential: CredentialInfo,
    state: TokenState,
    verifier: Option<Vec<u8>>,
    /// Both rows match their MACs.
    intact: bool,
}

/// Where the credential's whole row starts in [`Decider::find_sql`]'s
/// answer (after `CREDENTIAL_COLUMNS`, the token's state and the verifier).
const FIND_ROWS_AT: usize = 16;

pub(super) fn find_sql(layout: &crate::store::row_mac::Layout) -> Result<String, StoreError> {
    let table = |name| {
        layout
            .table(name)
            .ok_or(StoreError::Corrupt("row MAC layout"))
    };
    Ok(format!(
        "SELECT {CREDENTIAL_COLUMNS}, t.state, c.pin_verifier, {}, c.row_mac, {}, t.row_mac,
         c.rowid, t.rowid FROM credentials c JOIN tokens t ON t.serial = c.token
         WHERE c.holder = ?1 AND c.live = 1 AND (c.expires_at IS NULL OR c.expires_at > ?2)",
        table("credentials")?.column_list("c."),
        table("tokens")?.column_list("t."),
    ))
}

/// A holder's rights, each row whole with its MAC and then as a right
/// ([`RIGHT_COLUMNS`]), with whether its school is there: one statement
/// answers both what [`Decider::rights`] checks and what it decides with.
pub(super) fn rights_sql(layout: &crate::store::row_mac::Layout) -> Result<String, StoreError> {
    let rights = layout
        .table("rights")
        .ok_or(StoreError::Corrupt("row MAC layout"))?;
    Ok(format!(
        "SELECT {}, r.row_mac, {RIGHT_COLUMNS}, s.uai IS NOT NULL
         FROM rights r LEFT JOIN schools s ON s.uai = r.school
         WHERE r.person = ?1 ORDER BY r.from_date, r.id",
        rights.column_list("r."),
    ))
}

impl Decider {
    /// Whether every right of `holder` matches its MAC, and those rights
    /// (with their school's district; "" finds none). One read of the rows
    /// for both: they were read twice, once to check and once to decide,
    /// 10 % of the writer's time with 2,000 holders (issue 13). A right
    /// whose school is gone is checked but entitles nobody, as before.
    fn rights(
        &self,
        db: &Connection,
        holder: &str,
    ) -> Result<(bool, Vec<RightRecord>), StoreError> {
        let layout = self
            .shared
            .row_layout
            .table("rights")
            .ok_or(StoreError::Corrupt("row MAC layout"))?;
        let key = self.shared.keys.row_key();
        let right_at_column = layout.columns.len() + 1;
        let school_at = right_at_column + RIGHT_FIELDS;
        let mut stmt = db.prepare_cached(&self.rights_sql)?;
        let mut rows = stmt.query([holder])?;
        let (mut intact, mut rights) = (true, Vec::new());
        while let Some(row) = rows.next()? {
            intact &= layout.matches_at(key, row, 0);
            if row.get::<_, bool>(school_at)? {
                rights.push(right_at(row, right_at_column)?);
            }
        }
        Ok((intact, rights))
    }

    /// Appends the aggregated refusals that are due to the audit chain.
    pub(super) fn write_repeated(
        &mut self,
        db: &Connection,
        head: &mut AuditHead,
        now: Option<UnixTime>,
    ) -> Result<(), StoreError> {
        for r in self.refusals.due(now) {
            self.audit(
                db,
                head,
                r.at,
                "verify.reject.repeated",
                &r.subject,
                &r.detail,
            )?;
        }
        Ok(())
    }

    /// Appends a refusal to the audit chain if it locks the credential or
    /// is the first of its kind for `subject` this minute; otherwise counts
    /// it ([`refusals`]). Its detail is written in a buffer kept from
    /// request to request.
    #[allow(clippy::too_many_arguments)]
    fn audit_refusal(
        &mut self,
        db: &Connection,
        head: &mut AuditHead,
        now: UnixTime,
        subject: &str,
        kind: RefusalKind,
        failures: Option<u32>,
        locked_now: bool,
    ) -> Result<(), StoreError> {
        // Every lock is an entry of its own, never counted in a run.
        if locked_now
            || self
                .refusals
                .first_in_minute(subject, kind, failures.unwrap_or(0), now)
        {
            let mut detail = std::mem::take(&mut self.detail);
            kind.write_detail(&mut detail, failures, locked_now);
            let written = self.audit(db, head, now, "verify.reject", subject, &detail);
            self.detail = detail;
            written?;
        }
        Ok(())
    }

    /// Appends one of the gateway's verify decisions to the audit chain.
    pub(super) fn audit(
        &self,
        db: &Connection,
        head: &mut AuditHead,
        now: UnixTime,
        action: &str,
        subject: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at: now,
            actor: "gateway",
            action,
            subject,
            detail,
        };
        head.append(db, &self.shared.keys, &entry).map(|_| ())
    }

    fn find(&self, db: &Connection, holder: &str, at: i64) -> Result<Option<Found>, StoreError> {
        let mut stmt = db.prepare_cached(&self.find_sql)?;
        let mut rows = stmt.query(rusqlite::params![holder, at])?;
        let Some(row) = rows.next()? else {
            return Ok(None);
        };
        let layout = &self.shared.row_layout;
        let intact = match (layout.table("credentials"), layout.table("tokens")) {
            (Some(c), Some(t)) => {
                let t_at = FIND_ROWS_AT + c.columns.len() + 1;
                let rowids = t_at + t.columns.len() + 1;
                let g = &self.guard;
                g.intact_at("credentials", row, FIND_ROWS_AT, rowids)
                    && g.intact_at("tokens", row, t_at, rowids + 1)
            }
            _ => false,
        };
        Ok(Some(Found {
            credential: credential_from_row(row)?,
            state: TokenState::parse(&row.get::<_, String>(14)?)?,
            verifier: row.get(15)?,
            intact,
        }))
    }

    pub(super) fn decide_one(
        &mut self,
        db: &Connection,
        head: &mut AuditHead,
        now: UnixTime,
        request: &VerifyRequest,
    ) -> Result<(VerifyOutcome, &'static str), StoreError> {
        let login = PersonId::parse(&request.login).ok();
        if let Some(source) = &request.source {
            if let Some(wait) = self.sources.blocked_for(source, now) {
                // Refused unevaluated: the credential's counters are not
                // touched, so this caller cannot lock its victims out.
                let kind = RefusalKind {
                    reason: Reason::SourceLimited,
                    problem: None,
                    purpose: request.purpose,
                };
                let subject = login.as_ref().map_or("-", PersonId::as_str);
                self.audit_refusal(db, head, now, subject, kind, None, false)?;
                return Ok((
                    VerifyOutcome::SourceLimited { retry_after: wait },
                    reason_label(Reason::SourceLimited),
                ));
            }
        }
        // Who the work is done for: the login's own records if it has any,
        // else a decoy's (a real holder's, read, checked and then ignored),
        // so that an unknown login runs the same statements, reads the same
        // kinds of rows, checks as many MACs and computes the same window
        // as a known one. Every request looks up two names with the same
        // statement: its own (nothing, "", when it is not a valid login)
        // and then, when it has records, a name nobody holds (the holder's
        // with a NUL after it), else its decoy: one lookup finds a record,
        // the other finds none, for every request. The second name is
        // built in a buffer kept from request to request: no allocation
        // whichever it is (issue 11 point 3).
        let slot = self.phantoms.slot(&request.login);
        let at = i64::try_from(now).unwrap_or(i64::MAX);
        let own = self.find(db, login.as_ref().map_or("", PersonId::as_str), at)?;
        let mut probe = std::mem::take(&mut self.probe);
        probe.clear();
        // The same steps either way: a name, then a suffix (a NUL, which
        // no login holds, or nothing).
        let (name, suffix) = match &own {
            Some(f) => (f.credential.holder.as_str(), "\0"),
            None => (self.decoys.login_for(slot), ""),
        };
        probe.push_str(name);
        probe.push_str(suffix);
        let second = self.find(db, &probe, at);
        self.probe = probe;
        let second = second?;
        let known_login = own.is_some();
        let found = if known_login {
            std::hint::black_box(second.is_some());
            own
        } else {
            second
        };
        // Whether the records read are a listed decoy's: one lookup of a
        // credential id in a set, for every request (a made-up login's
        // decoy always is), so that keeping the list costs a known login
        // no more than a made-up one; it used to compare a known login
        // with every decoy's name (issue 11 point 3).
        let listed = found
            .as_ref()
            .is_some_and(|f| self.decoys.lists(f.credential.id));
        if let (true, false, Some(f)) = (known_login, listed, &found) {
            self.decoys.add(&f.credential);
        }
        // The holder whose records are read: the login's own, or the decoy.
        let subject_login = found.as_ref().map_or("", |f| f.credential.holder.as_str());
        let mut problem = None;
        // The rights that decide too (the same query for any login, known or
        // not). A record changed outside keyward decides nothing and is never
        // written to (which would MAC it again): the login is answered as an
        // unknown one, and the audit says why.
        let (rights_intact, rights) = self.rights(db, subject_login)?;
        // What entitles the holder for this purpose is checked the same way
        // (the same queries for any login of that purpose).
        let staff_intact = match request.purpose {
            Purpose::Gateway => true,
            Purpose::StaffSignIn => {
                let (layout, row_key) = (&self.shared.row_layout, self.shared.keys.row_key());
                self.staff_check
                    .intact(db, layout, row_key, subject_login)?
            }
        };
        let tampered = found
            .as_ref()
            .is_some_and(|f| !f.intact || !rights_intact || !staff_intact);
        if known_login && tampered {
            problem = Some(Problem::RowMacMismatch);
        }
        // The counters: two rows read, each with its MAC, in the same order
        // for every request: first the phantom slot of the name (a made-up
        // login's own counters; a known login's, read to be written back
        // as they were), then the counters of the credential found (a known
        // login's own; a decoy's, read to be written back as they were).
        // So every refusal reads two counters rows and writes two (its own,
        // new, and the other, unchanged), in the same places and order
        // whether the login exists or not; the first request for any name
        // inserts its slot's row, later ones replace it (issue 11 point 3).
        // Writing a phantom slot back unchanged never lowers its counters.
        let phantom_counters = self.phantoms.load(db, slot)?;
        let credential_counters = match &found {
            Some(f) => Some(super::counters::of(&self.phantoms, db, &f.credential)?),
            None => None,
        };
        let own_counters = known_login && !tampered;
        let counters = match (own_counters, credential_counters) {
            (true, Some(c)) => c,
            _ => phantom_counters,
        };
        // What is written back unchanged: the phantom slot for a known
        // login, the decoy's counters for an unknown one (never a tampered
        // record's).
        let other = match (&found, known_login, tampered, credential_counters) {
            (Some(_), true, false, _) => Some((slot, phantom_counters)),
            (Some(f), false, _, Some(c)) => Some((super::counters::slot_of(f.credential.id), c)),
            _ => None,
        };
        // A decoy, or a tampered record, decides nothing past this point.
        let (found, decoy) = if known_login && !tampered {
            (found, None)
        } else {
            (None, found)
        };
        let work = found.as_ref().or(decoy.as_ref());
        if let Some(f) = work {
            if self.cache.contains_key(&f.credential.id) {
                self.timing.hits += 1;
            } else {
                match unseal_key(db, &self.shared, &f.credential) {
                    Ok(Some(key)) => {
                        self.cache.insert(f.credential.id, key);
                    }
                    Ok(None) if found.is_some() => problem = Some(Problem::NoSealedSecret),
                    Err(_) if found.is_some() => problem = Some(Problem::SealedSecretRejected),
                    _ => {}
                }
            }
        }
        let own_key = found
            .as_ref()
            .and_then(|f| self.cache.get(&f.credential.id));
        let known = own_key.is_some();
        let key = own_key
            .or_else(|| work.and_then(|f| self.cache.get(&f.credential.id)))
            .unwrap_or(&self.dummy_key);
        let config = &self.shared.config;

        // The proof of possession: the same pure code for every writer.
        let digits = work.map_or(Digits::SIX, |f| f.credential.params.digits);
        let holder = work.map_or("", |f| f.credential.holder.as_str());
        let against = Against {
            key,
            dummy_key: &self.dummy_key,
            holder,
            verifier: work
                .and_then(|f| f.verifier.as_deref())
                .unwrap_or(&self.dummy_verifier),
            digits,
            kind: work.map_or(Against::NOBODY_KIND, |f| f.credential.params.kind),
            floor: work.and_then(|f| f.credential.floor),
            drift: work.map_or(0, |f| f.credential.drift),
        };
        let window = Window {
            totp_behind: config.totp_behind,
            hotp_look_ahead: config.hotp_look_ahead,
            candidates: self.candidates_per_request,
        };
        let proof = possession(&self.shared.keys, window, &against, &request.passcode, now)?;
        let kind = against.kind;
        if proof.out_of_range {
            problem = Some(Problem::ParametersOutOfRange);
        }
        let pin_ok =
            proof.pin_matches && known && found.as_ref().is_some_and(|f| f.verifier.is_some());

        // An unknown login ran the same queries (for its decoy).
        let rights = in_force(&rights, now, &self.shared.config.time_zone);
        let entitled = match request.purpose {
            Purpose::Gateway => !rights.is_empty(),
            Purpose::StaffSignIn => holds_staff_key(db, holder)?,
        };
        let evidence = Evidence {
            well_formed: proof.well_formed,
            known,
            active: found
                .as_ref()
                .is_some_and(|f| f.state == TokenState::Active),
            pin_ok,
            code_step: proof.code_step,
            replay: proof.replay,
            purpose: request.purpose,
            entitled,
        };
        let decision = decide(now, counters, evidence);
        // --- Gateway challenges (`store::ops::gateway`): what a gateway's
        // caller needs to tell whether this rejection opens one. The same
        // work for every probing request (one key copied).
        if let Some(slot) = &request.challenge_probe {
            let usable = evidence.active
                && matches!(&decision, Decision::Reject { reason, counters: after, .. }
                    if !after.locked && !matches!(reason, Reason::Locked | Reason::Throttled));
            let facts = ProbeFacts {
                key: known.then_some(key),
                dummy: &self.dummy_key,
                credential: found.as_ref().map(|f| &f.credential),
                usable,
                pin_ok,
                has_pin: found.as_ref().is_some_and(|f| f.verifier.is_some()),
                look_ahead: config.hotp_look_ahead,
            };
            let _ = slot.set(ChallengeProbe::new(facts, request.passcode.len()));
        }
        // --- end of gateway challenges.
        let subject = login.as_ref().map_or("-", PersonId::as_str);
        let (entry, answer, label) = match decision {
            Decision::Accept {
                step,
                offset,
                counters: reset,
            } => {
                let f = found
                    .as_ref()
                    .ok_or(StoreError::Corrupt("accept without credential"))?;
                let drift = match kind {
                    OtpKind::Totp { .. } => learned_drift(offset, config.totp_behind),
                    OtpKind::Hotp { .. } => 0,
                };
                db.prepare_cached(
                    "UPDATE credentials SET floor = ?1, fails = 0, locked = 0, retry_at = ?2,
                     last_used_at = ?3, drift = ?4 WHERE id = ?5",
                )?
                .execute(rusqlite::params![
                    i64::try_from(step).map_err(|_| StoreError::Corrupt("step"))?,
                    super::counters::MOVED,
                    i64::try_from(now).map_err(|_| StoreError::Corrupt("time"))?,
                    drift,
                    f.credential.id
                ])?;
                // The counters back to zero (unwritten when they already are:
                // a moved credential's missing row would have been locked).
                if !(super::counters::moved(&f.credential) && counters == reset) {
                    self.phantoms
                        .store(db, super::counters::slot_of(f.credential.id), reset)?;
                }
                (
                    Entry::Accept(format!(
                        "credential={} step={step} offset={offset} purpose={}",
                        f.credential.id,
                        request.purpose.as_str()
                    )),
                    VerifyOutcome::Accept { rights },
                    "accept",
                )
            }
            Decision::Reject {
                reason,
                counters: after,
                retry_after,
            } => {
                // Every rejected request writes its counters, changed or
                // not (locked, throttled, malformed ...): the credential's
                // row (MAC renewed at commit) or its phantom slot (MAC
                // computed here), so that the writes do not depend on who
                // the login is.
                // In the order they were read: the phantom slot first, then
                // the credential's counters.
                match (&found, other) {
                    (Some(f), Some((other_slot, as_it_was))) => {
                        self.phantoms.store(db, other_slot, as_it_was)?;
                        super::counters::store(&self.phantoms, db, &f.credential, after)?;
                    }
                    (Some(f), None) => {
                        super::counters::store(&self.phantoms, db, &f.credential, after)?;
                    }
                    (None, other) => {
                        self.phantoms.store(db, slot, after)?;
                        if let Some((other_slot, as_it_was)) = other {
                            self.phantoms.store(db, other_slot, as_it_was)?;
                        }
                    }
                }
                // Possession proved without the entitlement the purpose
                // asks for: the code is consumed like an accepted one (never
                // accepted later, by any purpose).
                let possession = matches!(reason, Reason::NoRightInForce | Reason::NoStaffKey);
                if let (true, Some(f), Some((step, _))) = (possession, &found, proof.code_step) {
                    db.prepare_cached("UPDATE credentials SET floor = ?1 WHERE id = ?2")?
                        .execute(rusqlite::params![
                            i64::try_from(step).map_err(|_| StoreError::Corrupt("step"))?,
                            f.credential.id
                        ])?;
                }
                if reason.counts_as_failure() {
                    if let Some(source) = &request.source {
                        self.sources.record_failure(source, now);
                    }
                }
                (
                    Entry::Refusal {
                        kind: RefusalKind {
                            reason,
                            problem,
                            purpose: request.purpose,
                        },
                        failures: after.fails,
                        locked_now: after.locked && !counters.locked,
                    },
                    VerifyOutcome::Reject { hold: retry_after },
                    reason_label(reason),
                )
            }
        };
        match entry {
            Entry::Accept(detail) => {
                self.audit(db, head, now, "verify.accept", subject, &detail)?;
            }
            Entry::Refusal {
                kind,
                failures,
                locked_now,
            } => {
                self.audit_refusal(db, head, now, subject, kind, Some(failures), locked_now)?;
            }
        }
        Ok((answer, label))
    }
}

/// The audit entry a decision gets.
enum Entry {
    /// `verify.accept`, with its detail.
    Accept(String),
    /// `verify.reject`: written or counted ([`Decider::audit_refusal`]).
    Refusal {
        kind: RefusalKind,
        failures: u32,
        locked_now: bool,
    },
}

/// Whether `holder` holds a live staff key (admin, desk or inspector) with
/// which a console session can act. The same query for any login, known or
/// not ("" finds nothing).
fn holds_staff_key(db: &Connection, holder: &str) -> Result<bool, StoreError> {
    let found: i64 = db
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM api_keys WHERE person = ?1 AND revoked_at IS NULL
             AND role IN ('admin', 'desk', 'inspector'))",
        )?
        .query_row([holder], |row| row.get(0))?;
    Ok(found != 0)
}
