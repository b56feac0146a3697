//! Token life (`docs/lifecycle.md`) as a pure transition function with its guards.
//!
//! ```text
//! stock --prepare(holder)--> prepared --handover(receipt)--> handed_over --activate(PIN)--> active
//! active/handed_over/prepared --return(receipt)--> returned --receive--> wiped --restock--> stock
//! any live state --revoke(reason)--> revoked
//! revoked(broken|faulty) --receive--> wiped   (lost/stolen tokens never come back)
//! ```
//! There is no edge that changes a token's holder: a token serves another
//! person only after return (or revocation), wipe and a fresh `prepare`.

use std::fmt;

use super::people::PersonId;
use super::DomainError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenState {
    Stock,
    Prepared,
    HandedOver,
    Active,
    Returned,
    Wiped,
    Revoked,
}

impl TokenState {
    pub const ALL: [TokenState; 7] = [
        TokenState::Stock,
        TokenState::Prepared,
        TokenState::HandedOver,
        TokenState::Active,
        TokenState::Returned,
        TokenState::Wiped,
        TokenState::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TokenState::Stock => "stock",
            TokenState::Prepared => "prepared",
            TokenState::HandedOver => "handed_over",
            TokenState::Active => "active",
            TokenState::Returned => "returned",
            TokenState::Wiped => "wiped",
            TokenState::Revoked => "revoked",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        TokenState::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or(DomainError::Corrupt("token state"))
    }

    /// Bound to a holder with a secret on it.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            TokenState::Prepared | TokenState::HandedOver | TokenState::Active
        )
    }
}

impl fmt::Display for TokenState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RevokeReason {
    Lost,
    Stolen,
    Broken,
    Faulty,
}

impl RevokeReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RevokeReason::Lost => "lost",
            RevokeReason::Stolen => "stolen",
            RevokeReason::Broken => "broken",
            RevokeReason::Faulty => "faulty",
        }
    }

    pub fn parse(text: &str) -> Result<Self, DomainError> {
        match text {
            "lost" => Ok(RevokeReason::Lost),
            "stolen" => Ok(RevokeReason::Stolen),
            "broken" => Ok(RevokeReason::Broken),
            "faulty" => Ok(RevokeReason::Faulty),
            _ => Err(DomainError::UnknownRevokeReason),
        }
    }

    /// The device is out of our hands: it must never be restocked.
    pub fn is_gone(self) -> bool {
        matches!(self, RevokeReason::Lost | RevokeReason::Stolen)
    }
}

impl fmt::Display for RevokeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenAction {
    Prepare,
    Handover,
    Activate,
    Return,
    Receive,
    Restock,
    Revoke(RevokeReason),
}

impl TokenAction {
    pub fn name(self) -> &'static str {
        match self {
            TokenAction::Prepare => "prepare",
            TokenAction::Handover => "handover",
            TokenAction::Activate => "activate",
            TokenAction::Return => "return",
            TokenAction::Receive => "receive",
            TokenAction::Restock => "restock",
            TokenAction::Revoke(_) => "revoke",
        }
    }
}

/// The state after `action`, or why it is refused. `revoked_for` is the
/// reason a revoked token was revoked (ignored in other states).
pub fn next_state(
    state: TokenState,
    revoked_for: Option<RevokeReason>,
    action: TokenAction,
) -> Result<TokenState, DomainError> {
    use TokenAction as A;
    use TokenState as S;
    let next = match (state, action) {
        (S::Stock, A::Prepare) => S::Prepared,
        (S::Prepared, A::Handover) => S::HandedOver,
        (S::HandedOver, A::Activate) => S::Active,
        (S::Prepared | S::HandedOver | S::Active, A::Return) => S::Returned,
        (S::Returned, A::Receive) => S::Wiped,
        (S::Revoked, A::Receive) => match revoked_for {
            Some(reason) if !reason.is_gone() => S::Wiped,
            _ => return Err(DomainError::TokenNeverComesBack),
        },
        (S::Wiped, A::Restock) => S::Stock,
        (s, A::Revoke(_)) if s.is_live() => S::Revoked,
        (from, action) => {
            return Err(DomainError::TransitionRefused {
                from,
                action: action.name(),
            })
        }
    };
    Ok(next)
}

/// A token as recorded: its state and, while bound, its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenInfo {
    pub serial: String,
    pub profile: String,
    pub state: TokenState,
    pub revoke_reason: Option<RevokeReason>,
    pub holder: Option<PersonId>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use TokenAction as A;
    use TokenState as S;

    #[test]
    fn the_happy_cycle() {
        let mut s = S::Stock;
        for a in [
            A::Prepare,
            A::Handover,
            A::Activate,
            A::Return,
            A::Receive,
            A::Restock,
        ] {
            s = next_state(s, None, a).unwrap();
        }
        assert_eq!(s, S::Stock);
    }

    #[test]
    fn no_rebind_and_no_shortcuts() {
        // A bound token cannot be prepared again (that would re-bind it).
        for s in [
            S::Prepared,
            S::HandedOver,
            S::Active,
            S::Returned,
            S::Wiped,
            S::Revoked,
        ] {
            assert!(next_state(s, None, A::Prepare).is_err(), "{s}");
        }
        assert!(next_state(S::Prepared, None, A::Activate).is_err());
        assert!(next_state(S::Returned, None, A::Restock).is_err());
        assert!(next_state(S::Stock, None, A::Revoke(RevokeReason::Lost)).is_err());
    }

    #[test]
    fn lost_and_stolen_never_come_back() {
        for r in [RevokeReason::Lost, RevokeReason::Stolen] {
            assert_eq!(
                next_state(S::Revoked, Some(r), A::Receive),
                Err(DomainError::TokenNeverComesBack)
            );
        }
        assert_eq!(
            next_state(S::Revoked, Some(RevokeReason::Faulty), A::Receive),
            Ok(S::Wiped)
        );
        for s in TokenState::ALL {
            assert_eq!(TokenState::parse(s.as_str()), Ok(s));
        }
    }

    #[test]
    fn a_refused_transition_reads_as_english() {
        // Was "a token in state active cannot be restockd".
        let err = next_state(S::Active, None, A::Restock).unwrap_err();
        assert_eq!(
            err.to_string(),
            "restock is not possible for a token in state active"
        );
    }
}
