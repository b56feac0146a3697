//! The challenges a gateway has opened and not yet seen answered: random
//! `State` values (RADIUS) or transaction ids (`/validate/check`), each
//! single-use, valid for [`CHALLENGE_TTL`], and bound to the client that
//! received it and to the login it was opened for. Held in memory only,
//! [`MAX_OPEN`] at most; the clock is passed in (pure, testable).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// How long a challenge can be answered.
pub const CHALLENGE_TTL: Duration = Duration::from_secs(60);
/// Most challenges open at once; past it, expired ones are swept, and if
/// none expired, no new challenge is opened (the request is rejected).
pub const MAX_OPEN: usize = 10_000;
/// Bytes of randomness in a challenge's id.
pub const ID_LEN: usize = 16;

/// A challenge's id: `State` on the wire, hex as a `transaction_id`.
pub type ChallengeId = [u8; ID_LEN];

/// What the challenge asked for, and what answering it needs.
pub enum Awaiting {
    /// The next code; the login then completes with this PIN.
    NextCode {
        pin: Zeroizing<String>,
        first: Zeroizing<String>,
    },
    /// A new PIN.
    NewPin,
    /// A whole passcode (new PIN and next code), verified as a login.
    Passcode,
}

impl std::fmt::Debug for Awaiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Awaiting::NextCode { .. } => "NextCode",
            Awaiting::NewPin => "NewPin",
            Awaiting::Passcode => "Passcode",
        })
    }
}

struct Open {
    client: String,
    login: String,
    until: Instant,
    awaiting: Awaiting,
}

/// The open challenges of one interface.
#[derive(Default)]
pub struct Challenges {
    open: Mutex<HashMap<ChallengeId, Open>>,
}

impl std::fmt::Debug for Challenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Challenges").finish_non_exhaustive()
    }
}

impl Challenges {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChallengeId, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Opens a challenge with a fresh random id; `None` when the table is
    /// full of live challenges or no randomness is available.
    pub fn open(
        &self,
        client: &str,
        login: &str,
        awaiting: Awaiting,
        now: Instant,
    ) -> Option<ChallengeId> {
        let mut id = [0u8; ID_LEN];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut id).ok()?;
        let mut open = self.lock();
        if open.len() >= MAX_OPEN {
            open.retain(|_, o| o.until > now);
        }
        if open.len() >= MAX_OPEN {
            return None;
        }
        open.insert(
            id,
            Open {
                client: client.to_owned(),
                login: login.to_owned(),
                until: now + CHALLENGE_TTL,
                awaiting,
            },
        );
        Some(id)
    }

    /// Takes the challenge `id` (it can never be answered again, whatever
    /// follows) if it is live and was opened for `client` and `login`.
    pub fn take(&self, id: &[u8], client: &str, login: &str, now: Instant) -> Option<Awaiting> {
        let id: ChallengeId = id.try_into().ok()?;
        let open = self.lock().remove(&id)?;
        (open.until > now && open.client == client && open.login == login).then_some(open.awaiting)
    }

    /// Challenges open now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_challenge_is_answered_once_by_its_client_for_its_login() {
        let c = Challenges::default();
        let t0 = Instant::now();
        let id = c.open("portail", "jdupont", Awaiting::NewPin, t0).unwrap();
        assert!(matches!(
            c.take(&id, "portail", "jdupont", t0),
            Some(Awaiting::NewPin)
        ));
        assert!(
            c.take(&id, "portail", "jdupont", t0).is_none(),
            "single use"
        );
        // Another client, another login, or too late: refused, and gone.
        for (client, login, at) in [
            ("autre", "jdupont", t0),
            ("portail", "pmartin", t0),
            ("portail", "jdupont", t0 + CHALLENGE_TTL),
        ] {
            let id = c
                .open("portail", "jdupont", Awaiting::Passcode, t0)
                .unwrap();
            assert!(c.take(&id, client, login, at).is_none());
            assert!(c.take(&id, "portail", "jdupont", t0).is_none());
        }
        assert!(c.take(&[1, 2, 3], "portail", "jdupont", t0).is_none());
        assert!(c.is_empty());
    }

    #[test]
    fn ids_are_random_and_memory_is_bounded() {
        let c = Challenges::default();
        let t0 = Instant::now();
        let a = c.open("p", "l", Awaiting::NewPin, t0).unwrap();
        let b = c.open("p", "l", Awaiting::NewPin, t0).unwrap();
        assert_ne!(a, b);
        for _ in 2..MAX_OPEN {
            c.open("p", "l", Awaiting::NewPin, t0).unwrap();
        }
        assert!(c.open("p", "l", Awaiting::NewPin, t0).is_none(), "full");
        // Once they expire, room is made.
        assert!(c
            .open("p", "l", Awaiting::NewPin, t0 + CHALLENGE_TTL)
            .is_some());
        assert_eq!(c.len(), 1);
    }
}
