//! The authority's rules (`docs/lifecycle.md`) as pure code: no I/O, no clock reads.
//!
//! - [`calendar`]: dates and the injected [`Clock`].
//! - [`uai`]: school codes with their check letter.
//! - [`people`]: logins, mail addresses, actors.
//! - [`rights`]: appointments and delegations, in force or not at an instant.
//! - [`right_end`]: who ends a right early, and how.
//! - [`roles`]: the role an API key carries.
//! - [`token`]: the token state machine and its guards.
//! - [`revocation`]: who revokes a key, from which states, and its audit.
//! - [`requests`]: who may ask for a replacement key (case 3).
//! - [`receipt`]: receipt content, signed form, printable renderings.
//! - [`reports`]: overdue returns and keys in transit, per district.
//! - [`verify_policy`]: accept/reject, failure counting, delay and lockout.

pub mod api_keys;
pub mod calendar;
pub mod credentials;
pub mod people;
pub mod receipt;
pub mod reports;
pub mod requests;
pub mod return_weeks;
pub mod revocation;
pub mod right_end;
pub mod rights;
pub mod roles;
pub mod schools;
pub mod token;
pub mod uai;
pub mod verify_policy;

#[cfg(test)]
mod testing;

pub use api_keys::{api_key_hash, ApiKeyRecord, NewApiKey, API_KEY_PREFIX};
pub use calendar::{Clock, Date, FixedClock, UnixTime};
pub use credentials::{CredentialInfo, PendingWrite};
pub use people::{Actor, MailAddress, Person, PersonId};
pub use rights::{EndReason, RightInForce, RightOrigin, RightPeriod, RightRecord};
pub use roles::Role;
pub use schools::{DistrictEntry, SchoolEntry};
pub use token::{next_state, RevokeReason, TokenAction, TokenInfo, TokenState};
pub use uai::Uai;

/// A rule of the domain refused an input or an operation. Carries no secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    #[error("invalid date {0:?}: expected an existing day as YYYY-MM-DD")]
    BadDate(String),
    #[error("invalid school code: {reason}")]
    BadUai { reason: &'static str },
    #[error("school code check letter is {got}, expected {expected}")]
    UaiCheckLetter { expected: char, got: char },
    #[error("invalid {what}: {rule}")]
    BadIdentifier {
        what: &'static str,
        rule: &'static str,
    },
    #[error("invalid mail address")]
    BadMailAddress,
    #[error("a right cannot end before it starts")]
    RightEndsBeforeItStarts,
    // The action is a verb's base form (`restock`, `hand over`): no
    // participle is built from it.
    #[error("{action} is not possible for a token in state {from}")]
    TransitionRefused {
        from: TokenState,
        action: &'static str,
    },
    #[error("a lost or stolen token never comes back into service")]
    TokenNeverComesBack,
    #[error("unknown revocation reason: expected lost, stolen, broken or faulty")]
    UnknownRevokeReason,
    #[error("help requests from a school's functional mailbox are refused: write from your personal address")]
    SchoolMailbox,
    #[error("help requests must come from an address in the authority's mail domain")]
    SenderOutsideDomain,
    #[error("help requests must come from the holder's own personal address")]
    SenderIsNotHolder,
    #[error("help requests must have the district's inspector in copy")]
    InspectorNotInCopy,
    #[error("receipt field {0} is missing")]
    MissingReceiptField(&'static str),
    #[error("malformed receipt: {0}")]
    BadReceipt(&'static str),
    #[error("stored data is corrupt: bad {0}")]
    Corrupt(&'static str),
}
