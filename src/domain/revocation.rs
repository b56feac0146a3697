//! Revoking a key (lost, stolen, broken, faulty): who may, from which
//! states, and what the audit says. One rule for every store: the SQLite
//! operation (`store::ops::tokens`) and a node on PostgreSQL
//! (`store::postgres::lifecycle`) read the facts, ask [`decide`], and write
//! what it says.

use super::{
    next_state, Actor, DomainError, PersonId, RevokeReason, TokenAction, TokenInfo, TokenState,
};

/// What is known of a revoke request when it is decided.
#[derive(Clone, Copy, Debug)]
pub struct RevokeFacts<'a> {
    /// Who asks, in the role they act in.
    pub actor: &'a Actor,
    /// The staff member behind the request (separation of duties).
    pub person: Option<&'a PersonId>,
    pub token: &'a TokenInfo,
    /// The district of the right the key serves, with the login of its
    /// inspector (`None` inside: no inspector named). `None`: the key
    /// serves no right.
    pub district: Option<(&'a str, Option<&'a str>)>,
    pub reason: RevokeReason,
}

/// A revoke the rule allows: the token's next state and its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    pub holder: PersonId,
    pub next: TokenState,
}

/// Why a revoke is refused. The store turns each into its typed error
/// (`StoreError::Forbidden`, `OwnAct`, `Domain`, `Corrupt`), the same on
/// every backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeRefusal {
    /// Not allowed to this actor; `why` is what the refusal says.
    Forbidden { why: &'static str },
    /// The actor's own key.
    OwnKey,
    /// The token's state does not allow it.
    Transition(DomainError),
    /// A key bound to a holder serves no right: the store is corrupt.
    NoDistrict,
}

/// What refusals and audit entries call the operation.
pub const ACTION: &str = "revoke a key";

/// The part of the rule known from the request alone: an inspector
/// revokes lost or stolen keys only (broken ones go to the desk).
pub fn reason_allowed(actor: &Actor, reason: RevokeReason) -> Result<(), RevokeRefusal> {
    match actor {
        Actor::Inspector(_) if !reason.is_gone() => Err(RevokeRefusal::Forbidden {
            why: "an inspector revokes lost or stolen keys; broken ones go to the desk",
        }),
        _ => Ok(()),
    }
}

/// Decides a revoke, in this order: the reason for this actor, a holder
/// bound to the token, the actor's scope (the desk, or the inspector of
/// the key's district), not the actor's own key, then the state machine.
pub fn decide(facts: RevokeFacts<'_>) -> Result<Revocation, RevokeRefusal> {
    reason_allowed(facts.actor, facts.reason)?;
    let holder = facts.token.holder.clone().ok_or(RevokeRefusal::Transition(
        DomainError::TransitionRefused {
            from: facts.token.state,
            action: "revoke",
        },
    ))?;
    let (_, inspector) = facts.district.ok_or(RevokeRefusal::NoDistrict)?;
    match facts.actor {
        Actor::Desk(_) | Actor::Admin(_) | Actor::System => {}
        Actor::Inspector(id) => {
            if inspector != Some(id.as_str()) {
                return Err(RevokeRefusal::Forbidden {
                    why: "an inspector acts only in their own district",
                });
            }
        }
        Actor::Holder(_) | Actor::Gateway => {
            return Err(RevokeRefusal::Forbidden {
                why: "only the district's inspector does this",
            })
        }
    }
    if facts.person == Some(&holder) {
        return Err(RevokeRefusal::OwnKey);
    }
    let next = next_state(
        facts.token.state,
        facts.token.revoke_reason,
        TokenAction::Revoke(facts.reason),
    )
    .map_err(RevokeRefusal::Transition)?;
    Ok(Revocation { holder, next })
}

/// The audit entry's detail of a revoke (action `token.revoke`, subject
/// the token's serial).
pub fn audit_detail(holder: &PersonId, reason: RevokeReason, credential: i64) -> String {
    format!("holder={holder} reason={reason} credential={credential} secret=destroyed")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pid(s: &str) -> PersonId {
        PersonId::parse(s).unwrap()
    }

    fn token(state: TokenState, holder: Option<&str>) -> TokenInfo {
        TokenInfo {
            serial: "KW-1".to_owned(),
            profile: "p".to_owned(),
            state,
            revoke_reason: None,
            holder: holder.map(pid),
        }
    }

    fn facts<'a>(
        actor: &'a Actor,
        person: Option<&'a PersonId>,
        token: &'a TokenInfo,
        reason: RevokeReason,
    ) -> RevokeFacts<'a> {
        RevokeFacts {
            actor,
            person,
            token,
            district: Some(("D-EST", Some("pmartin"))),
            reason,
        }
    }

    #[test]
    fn the_desk_revokes_a_live_key_for_any_reason() {
        let desk = Actor::Desk(pid("alice"));
        let alice = pid("alice");
        let t = token(TokenState::Active, Some("bleroy"));
        for reason in [
            RevokeReason::Lost,
            RevokeReason::Stolen,
            RevokeReason::Broken,
            RevokeReason::Faulty,
        ] {
            let done = decide(facts(&desk, Some(&alice), &t, reason)).unwrap();
            assert_eq!(done.next, TokenState::Revoked);
            assert_eq!(done.holder, pid("bleroy"));
        }
    }

    #[test]
    fn an_inspector_revokes_only_lost_or_stolen_keys_of_their_district() {
        let pmartin = pid("pmartin");
        let inspector = Actor::Inspector(pmartin.clone());
        let t = token(TokenState::Active, Some("bleroy"));
        assert!(decide(facts(&inspector, Some(&pmartin), &t, RevokeReason::Lost)).is_ok());
        assert!(matches!(
            decide(facts(&inspector, Some(&pmartin), &t, RevokeReason::Broken)),
            Err(RevokeRefusal::Forbidden { .. })
        ));
        let other = Actor::Inspector(pid("lbernard"));
        assert_eq!(
            decide(facts(
                &other,
                Some(&pid("lbernard")),
                &t,
                RevokeReason::Lost
            )),
            Err(RevokeRefusal::Forbidden {
                why: "an inspector acts only in their own district"
            })
        );
    }

    #[test]
    fn nobody_revokes_their_own_key_nor_a_key_out_of_service() {
        let desk = Actor::Desk(pid("bleroy"));
        let bleroy = pid("bleroy");
        let t = token(TokenState::Active, Some("bleroy"));
        assert_eq!(
            decide(facts(&desk, Some(&bleroy), &t, RevokeReason::Lost)),
            Err(RevokeRefusal::OwnKey)
        );
        let alice = pid("alice");
        let desk = Actor::Desk(alice.clone());
        for state in [TokenState::Returned, TokenState::Revoked, TokenState::Wiped] {
            let t = token(state, Some("bleroy"));
            assert!(matches!(
                decide(facts(&desk, Some(&alice), &t, RevokeReason::Lost)),
                Err(RevokeRefusal::Transition(_))
            ));
        }
        let t = token(TokenState::Stock, None);
        assert!(matches!(
            decide(facts(&desk, Some(&alice), &t, RevokeReason::Lost)),
            Err(RevokeRefusal::Transition(_))
        ));
        let gateway = Actor::Gateway;
        let t = token(TokenState::Active, Some("bleroy"));
        assert!(matches!(
            decide(facts(&gateway, None, &t, RevokeReason::Lost)),
            Err(RevokeRefusal::Forbidden { .. })
        ));
    }
}
