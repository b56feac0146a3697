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

use crate::domain::UnixTime;

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
    runs: HashMap<(String, String), Run>,
}

impl Refusals {
    /// Notes a refusal of `kind` (its reason and problem, if any) for
    /// `subject` at `now`; true when it must be written as its own entry
    /// (the first of its kind this minute). Call [`Refusals::due`] for
    /// `now` first, so that no run of an earlier minute is left.
    pub(crate) fn first_in_minute(
        &mut self,
        subject: &str,
        kind: &str,
        failures: u32,
        now: UnixTime,
    ) -> bool {
        let minute = now / 60;
        let key = (subject.to_owned(), kind.to_owned());
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

    #[test]
    fn one_entry_first_then_one_per_minute_for_the_rest() {
        let mut r = Refusals::default();
        let t = 1_800_000_000; // a minute's start
        assert!(r.first_in_minute("adurand", "reason=wrong code", 1, t));
        for i in 1..=500 {
            assert!(!r.first_in_minute("adurand", "reason=wrong code", 1 + i, t + 5));
        }
        // Another reason, another login: their own first entries.
        assert!(r.first_in_minute("adurand", "reason=credential locked", 10, t + 6));
        assert!(r.first_in_minute("bleroy", "reason=wrong code", 1, t + 7));
        assert!(r.due(Some(t + 59)).is_empty());
        let due = r.due(Some(t + 60));
        assert_eq!(
            due,
            [Repeated {
                at: t + 5,
                subject: "adurand".into(),
                detail: format!(
                    "reason=wrong code repeated=500 from={} to={} failures=501",
                    t + 5,
                    t + 5
                ),
            }]
        );
        assert!(r.is_empty());
        // The next minute starts again with an entry of its own.
        assert!(r.first_in_minute("adurand", "reason=wrong code", 502, t + 61));
        assert!(!r.first_in_minute("adurand", "reason=wrong code", 503, t + 62));
        assert_eq!(r.due(None).len(), 1);
    }
}
