//! Ending a right early: a delegation by its district's inspector, at
//! once (case 2); an appointment by the administration, for a reason, at
//! once or shortened to end on a day. One rule for every store: the SQLite
//! operation (`store::ops::rights`) and a node on PostgreSQL
//! (`store::postgres::lifecycle`) read the facts, ask [`decide`], and write
//! what it says.

use jiff::tz::TimeZone;

use super::calendar::{Date, UnixTime};
use super::people::{Actor, PersonId};
use super::rights::{EndReason, RightOrigin, RightRecord};
use super::DomainError;

/// What is known of a request to end a right when it is decided.
#[derive(Clone, Copy, Debug)]
pub struct EndFacts<'a> {
    /// Who asks, in the role they act in (an admin ending a delegation acts
    /// as the district's inspector).
    pub actor: &'a Actor,
    /// The staff member behind the request (separation of duties).
    pub person: Option<&'a PersonId>,
    pub right: &'a RightRecord,
    /// The login of the inspector of the right's district, when known.
    pub inspector: Option<&'a str>,
    pub reason: Option<EndReason>,
    /// For an appointment: its new last day, instead of ending it now.
    pub on: Option<Date>,
    /// The authority's day at the request's instant.
    pub today: Date,
}

/// What ending a right writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RightEnd {
    /// Ended at the request's instant (`ended_at`).
    Now { reason: Option<EndReason> },
    /// Its last day moved to `until` (`until_date`), in force until then.
    Shorten { until: Date, reason: EndReason },
}

/// Why ending a right is refused; the store turns each into its typed
/// error (`StoreError::Forbidden`, `OwnAct`, `Domain`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndRefusal {
    Forbidden {
        action: &'static str,
        why: &'static str,
    },
    /// The actor's own right.
    OwnRight,
    Domain(DomainError),
}

/// What separation-of-duties refusals call the operation.
pub const OWN_ACTION: &str = "end a right";

/// Decides ending `facts.right` (see the module text).
pub fn decide(facts: EndFacts<'_>) -> Result<RightEnd, EndRefusal> {
    let right = facts.right;
    if right.period.ended_at.is_some() {
        return Err(EndRefusal::Forbidden {
            action: "end a right",
            why: "it has already ended",
        });
    }
    let own = || {
        if facts.person == Some(&right.person) {
            Err(EndRefusal::OwnRight)
        } else {
            Ok(())
        }
    };
    match right.origin {
        RightOrigin::Delegation => {
            const ACTION: &str = "end a delegation";
            match facts.actor {
                Actor::Inspector(id) if facts.inspector == Some(id.as_str()) => {}
                Actor::Inspector(_) => {
                    return Err(EndRefusal::Forbidden {
                        action: ACTION,
                        why: "an inspector acts only in their own district",
                    })
                }
                _ => {
                    return Err(EndRefusal::Forbidden {
                        action: ACTION,
                        why: "only the district's inspector does this",
                    })
                }
            }
            own()?;
            Ok(RightEnd::Now {
                reason: facts.reason,
            })
        }
        RightOrigin::Appointment => {
            if !matches!(facts.actor, Actor::Admin(_) | Actor::System) {
                return Err(EndRefusal::Forbidden {
                    action: "end an appointment",
                    why: "only the administration (an admin key) ends or shortens an appointment",
                });
            }
            own()?;
            let reason = facts
                .reason
                .ok_or(EndRefusal::Domain(DomainError::BadIdentifier {
                    what: "reason",
                    rule: "retraite, mutation, changement_de_corps, fin_de_fonction or autre",
                }))?;
            match facts.on {
                Some(day) if right.period.until.is_some_and(|u| u <= day) => {
                    Err(EndRefusal::Domain(DomainError::BadIdentifier {
                        what: "on",
                        rule: "a day before the appointment's own end",
                    }))
                }
                Some(day) => Ok(end_before(right, day.add_days(1), facts.today, reason)),
                None => Ok(RightEnd::Now {
                    reason: Some(reason),
                }),
            }
        }
    }
}

/// Ending `right` on the day before `day`, for `reason`: shortened to that
/// day, or at once if it has not started by then or that day has passed.
pub fn end_before(right: &RightRecord, day: Date, today: Date, reason: EndReason) -> RightEnd {
    let last = day.previous();
    if last < right.period.from || last < today {
        RightEnd::Now {
            reason: Some(reason),
        }
    } else {
        RightEnd::Shorten {
            until: last,
            reason,
        }
    }
}

/// Ending `right` because its holder's departure from the authority is
/// recorded: whoever leaves the authority holds no director function in it
/// (SPEC §2), so every right of theirs not ended and not past ends at once,
/// whatever its origin, for the reason `fin_de_fonction`. `None`: nothing
/// to end (already ended, or past its last day).
pub fn at_departure(right: &RightRecord, now: UnixTime, zone: &TimeZone) -> Option<RightEnd> {
    (right.period.ended_at.is_none() && right.period.live_or_future_at(now, zone)).then_some(
        RightEnd::Now {
            reason: Some(EndReason::FinDeFonction),
        },
    )
}

/// The audit entry of `end` (action, detail), subject the right's person.
pub fn audit_entry(right_id: i64, end: RightEnd) -> (&'static str, String) {
    match end {
        RightEnd::Now { reason } => {
            let reason = reason.map_or("-", EndReason::as_str);
            ("right.end", format!("right={right_id} reason={reason}"))
        }
        RightEnd::Shorten { until, reason } => (
            "right.shorten",
            format!("right={right_id} until={until} reason={reason}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rights::RightPeriod;
    use crate::domain::testing::date;
    use crate::domain::Uai;

    fn pid(s: &str) -> PersonId {
        PersonId::parse(s).unwrap()
    }

    fn right(origin: RightOrigin, until: Option<&str>) -> RightRecord {
        RightRecord {
            id: 7,
            person: pid("cmoreau"),
            school: Uai::parse("0751710B").unwrap(),
            district: "D-EST".to_owned(),
            origin,
            period: RightPeriod::new(date("2029-09-01"), until.map(date)).unwrap(),
            end_reason: None,
        }
    }

    fn facts<'a>(actor: &'a Actor, right: &'a RightRecord) -> EndFacts<'a> {
        EndFacts {
            actor,
            person: actor.staff_person(),
            right,
            inspector: Some("pmartin"),
            reason: None,
            on: None,
            today: date("2030-03-17"),
        }
    }

    #[test]
    fn a_delegation_is_ended_at_once_by_its_district_s_inspector_only() {
        let delegation = right(RightOrigin::Delegation, None);
        let pmartin = Actor::Inspector(pid("pmartin"));
        assert_eq!(
            decide(facts(&pmartin, &delegation)),
            Ok(RightEnd::Now { reason: None })
        );
        for other in [
            Actor::Inspector(pid("lbernard")),
            Actor::Desk(pid("alice")),
            Actor::Admin(pid("alice")),
        ] {
            assert!(matches!(
                decide(facts(&other, &delegation)),
                Err(EndRefusal::Forbidden { .. })
            ));
        }
        let mut ended = delegation.clone();
        ended.period.ended_at = Some(1);
        assert!(matches!(
            decide(facts(&pmartin, &ended)),
            Err(EndRefusal::Forbidden { .. })
        ));
    }

    #[test]
    fn an_appointment_is_ended_or_shortened_by_an_admin_for_a_reason() {
        let appointment = right(RightOrigin::Appointment, Some("2030-07-04"));
        let admin = Actor::Admin(pid("alice"));
        let mut asked = facts(&admin, &appointment);
        assert!(matches!(decide(asked), Err(EndRefusal::Domain(_))));
        asked.reason = Some(EndReason::Mutation);
        assert_eq!(
            decide(asked),
            Ok(RightEnd::Now {
                reason: Some(EndReason::Mutation)
            })
        );
        asked.on = Some(date("2030-04-30"));
        assert_eq!(
            decide(asked),
            Ok(RightEnd::Shorten {
                until: date("2030-04-30"),
                reason: EndReason::Mutation
            })
        );
        asked.on = Some(date("2030-07-04"));
        assert!(matches!(decide(asked), Err(EndRefusal::Domain(_))));
        // A day already past ends it now.
        asked.on = Some(date("2030-03-01"));
        assert!(matches!(decide(asked), Ok(RightEnd::Now { .. })));
        let inspector = Actor::Inspector(pid("pmartin"));
        assert!(matches!(
            decide(facts(&inspector, &appointment)),
            Err(EndRefusal::Forbidden { .. })
        ));
        let own = Actor::Admin(pid("cmoreau"));
        let mut asked = facts(&own, &appointment);
        asked.reason = Some(EndReason::Autre);
        assert_eq!(decide(asked), Err(EndRefusal::OwnRight));
    }
}
