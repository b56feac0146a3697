//! Repeated identical refusals, aggregated in the audit: so that a caller
//! cannot choose how much disk the audit takes by repeating a request.
//!
//! The first refusal of a kind (same login, same reason) in a minute is its
//! own audit entry, as is every accept and every lock; the ones that follow
//! in the same minute are counted here, and when the minute is over they
//! become one entry (`verify.reject.repeated`: how many, first and last
//! time). So a login costs at most two entries per reason and minute, however
//! fast it is sprayed. The counts of a minute not yet written are lost if
//! the daemon is killed (the failure counters themselves are on disk before
//! any answer); a clean stop writes them.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::domain::verify_policy::{Purpose, Reason};
use crate::domain::UnixTime;

/// What was wrong with the records a refusal read, if anything (then the
/// login is answered as an unknown one, and the audit says why).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Problem {
    RowMacMismatch,
    NoSealedSecret,
    SealedSecretRejected,
    ParametersOutOfRange,
}

/// Every [`Problem`]'s audit text, in the order they are declared.
const PROBLEM_TEXTS: [&str; 4] = [
    "record changed outside keyward (row MAC mismatch)",
    "no sealed secret",
    "sealed secret rejected",
    "verification parameters out of range",
];

impl Problem {
    pub(crate) fn as_str(self) -> &'static str {
        PROBLEM_TEXTS[self as usize]
    }
}

/// A kind of refusal: its reason, the records' problem if any, and what
/// the request was for. Repeats of one kind for one login in a minute are
/// counted together. A value, not a text: the verify path keys its counts
/// by it and reads its texts from tables, the same work whatever the
/// class of refusal (issue 11 point 3); texts are built only for the
/// audit entries written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct RefusalKind {
    pub reason: Reason,
    pub problem: Option<Problem>,
    pub purpose: Purpose,
}

impl RefusalKind {
    /// Writes the entry's detail into `out` (emptied first):
    /// `reason=… failures=N[ locked=now][ problem=…] purpose=…`, without
    /// the failures when `failures` is `None` (a request refused
    /// unevaluated).
    pub(crate) fn write_detail(self, out: &mut String, failures: Option<u32>, locked_now: bool) {
        out.clear();
        out.push_str("reason=");
        out.push_str(self.reason.as_str());
        if let Some(failures) = failures {
            // Writing to a String never fails.
            let _ = write!(out, " failures={failures}");
        }
        if locked_now {
            out.push_str(" locked=now");
        }
        self.write_rest(out);
    }

    /// ` problem=…` if any, then ` purpose=…`.
    fn write_rest(self, out: &mut String) {
        if let Some(problem) = self.problem {
            out.push_str(" problem=");
            out.push_str(problem.as_str());
        }
        out.push_str(" purpose=");
        out.push_str(self.purpose.as_str());
    }
}

/// `reason=…[ problem=…] purpose=…`: how an aggregated entry names its
/// kind.
impl std::fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut text = String::from("reason=");
        text.push_str(self.reason.as_str());
        self.write_rest(&mut text);
        f.write_str(&text)
    }
}

/// One kind of refusal being counted in its minute.
#[derive(Debug)]
struct Run {
    minute: u64,
    /// The time of the first refusal counted after the entry, and the last.
    from: UnixTime,
    to: UnixTime,
    repeated: u64,
    /// The failure count the last one left.
    failures: u32,
}

/// An aggregated entry to append to the audit.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Repeated {
    pub at: UnixTime,
    pub subject: String,
    pub detail: String,
}

/// The runs of the current minute, by (subject, kind).
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    runs: HashMap<(String, RefusalKind), Run>,
}

impl Refusals {
    /// Notes a refusal of `kind` (its reason and problem, if any) for
    /// `subject` at `now`; true when it must be written as its own entry
    /// (the first of its kind this minute). Call [`Refusals::due`] for
    /// `now` first, so that no run of an earlier minute is left.
    pub(crate) fn first_in_minute(
        &mut self,
        subject: &str,
        kind: RefusalKind,
        failures: u32,
        now: UnixTime,
    ) -> bool {
        let minute = now / 60;
        let key = (subject.to_owned(), kind);
        match self.runs.get_mut(&key) {
            Some(run) if run.minute == minute => {
                if run.repeated == 0 {
                    run.from = now;
                }
                run.repeated += 1;
                run.to = now;
                run.failures = failures;
                false
            }
            _ => {
                self.runs.insert(
                    key,
                    Run {
                        minute,
                        from: now,
                        to: now,
                        repeated: 0,
                        failures,
                    },
                );
                true
            }
        }
    }

    /// The entries of every run whose minute ended before `now` (of every
    /// run, when `now` is `None`: at shutdown), in a stable order; those runs
    /// are forgotten.
    pub(crate) fn due(&mut self, now: Option<UnixTime>) -> Vec<Repeated> {
        let minute = now.map(|n| n / 60);
        let mut out = Vec::new();
        self.runs.retain(|(subject, kind), run| {
            if minute.is_some_and(|m| run.minute >= m) {
                return true;
            }
            if run.repeated > 0 {
                out.push(Repeated {
                    at: run.to,
                    subject: subject.clone(),
                    detail: format!(
                        "{kind} repeated={} from={} to={} failures={}",
                        run.repeated, run.from, run.to, run.failures
                    ),
                });
            }
            false
        });
        out.sort_by(|a, b| (a.at, &a.subject, &a.detail).cmp(&(b.at, &b.subject, &b.detail)));
        out
    }

    /// Whether nothing is being counted.
    pub(crate) fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRONG_CODE: RefusalKind = RefusalKind {
        reason: Reason::WrongCode,
        problem: None,
        purpose: Purpose::Gateway,
    };

    #[test]
    fn one_entry_first_then_one_per_minute_for_the_rest() {
        let mut r = Refusals::default();
        let locked = RefusalKind {
            reason: Reason::Locked,
            ..WRONG_CODE
        };
        let t = 1_800_000_000; // a minute's start
        assert!(r.first_in_minute("adurand", WRONG_CODE, 1, t));
        for i in 1..=500 {
            assert!(!r.first_in_minute("adurand", WRONG_CODE, 1 + i, t + 5));
        }
        // Another reason, another login: their own first entries.
        assert!(r.first_in_minute("adurand", locked, 10, t + 6));
        assert!(r.first_in_minute("bleroy", WRONG_CODE, 1, t + 7));
        assert!(r.due(Some(t + 59)).is_empty());
        let due = r.due(Some(t + 60));
        assert_eq!(
            due,
            [Repeated {
                at: t + 5,
                subject: "adurand".into(),
                detail: format!(
                    "reason=wrong code purpose=gateway repeated=500 from={} to={} failures=501",
                    t + 5,
                    t + 5
                ),
            }]
        );
        assert!(r.is_empty());
        // The next minute starts again with an entry of its own.
        assert!(r.first_in_minute("adurand", WRONG_CODE, 502, t + 61));
        assert!(!r.first_in_minute("adurand", WRONG_CODE, 503, t + 62));
        assert_eq!(r.due(None).len(), 1);
    }

    #[test]
    fn details_read_as_before() {
        let mut out = String::from("left over");
        WRONG_CODE.write_detail(&mut out, Some(3), false);
        assert_eq!(out, "reason=wrong code failures=3 purpose=gateway");
        let kind = RefusalKind {
            reason: Reason::WrongPin,
            problem: Some(Problem::RowMacMismatch),
            purpose: Purpose::StaffSignIn,
        };
        kind.write_detail(&mut out, Some(10), true);
        assert_eq!(
            out,
            "reason=wrong PIN failures=10 locked=now \
             problem=record changed outside keyward (row MAC mismatch) purpose=staff_sign_in"
        );
        let limited = RefusalKind {
            reason: Reason::SourceLimited,
            ..WRONG_CODE
        };
        limited.write_detail(&mut out, None, false);
        assert_eq!(
            out,
            "reason=too many failures from this source purpose=gateway"
        );
        assert_eq!(
            kind.to_string(),
            "reason=wrong PIN problem=record changed outside keyward (row MAC mismatch) \
             purpose=staff_sign_in"
        );
    }

    /// Every refusal's entry hashes as many blocks whatever its reason
    /// (`store::audit::MacEncoding::V2`): its detail fits one padded
    /// block. (A refusal over records changed outside keyward says so at
    /// more length; nobody without write access to the database can
    /// cause one.)
    #[test]
    fn every_refusal_s_detail_fits_one_audit_block() {
        let mut out = String::new();
        for reason in Reason::ALL {
            for purpose in [Purpose::Gateway, Purpose::StaffSignIn] {
                for failures in [None, Some(0), Some(9), Some(10), Some(u32::MAX)] {
                    for locked_now in [false, true] {
                        let kind = RefusalKind {
                            reason,
                            problem: None,
                            purpose,
                        };
                        kind.write_detail(&mut out, failures, locked_now);
                        assert!(out.len() <= crate::store::audit::DETAIL_BLOCK, "{out}");
                    }
                }
            }
        }
    }
}
