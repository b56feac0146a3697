//! What RADIUS and `/validate/check` share beyond the verify service: the
//! RSA-style challenges (docs/radius.md, "Challenges"). A rejected passcode
//! may open one (the next code of a key past its look-ahead window, a new
//! PIN after a PIN reset); its answer comes back with the challenge's id
//! (RADIUS `State`, privacyIDEA `transaction_id`). Whether a challenge is
//! due and what its answer does are store operations
//! (`store::ops::gateway`); whether a login is accepted is always the
//! verify service's decision.

pub mod challenges;

use std::sync::Arc;
use std::time::Instant;

use zeroize::Zeroizing;

pub use challenges::{Awaiting, ChallengeId, Challenges, CHALLENGE_TTL};

use crate::api::AppState;
use crate::domain::{Actor, RightInForce};
use crate::i18n::Lang;
use crate::store::ops::{ChallengeReason, ProbeSlot};
use crate::store::verify::{VerifyOutcome, VerifyRequest};
use crate::store::StoreError;

/// One login attempt at a gateway interface.
pub struct Attempt<'a> {
    /// The interface's name for its client (a RADIUS client's name, an
    /// API key's id): a challenge is answered by the client it was sent to.
    pub client: &'a str,
    pub login: &'a str,
    pub password: Zeroizing<String>,
    /// The challenge this attempt answers, if any.
    pub challenge: Option<&'a [u8]>,
    /// The end user's address as the gateway saw it (per-source limiter).
    pub source: Option<&'a str>,
}

impl std::fmt::Debug for Attempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attempt")
            .field("client", &self.client)
            .field("login", &self.login)
            .field("password", &"[redacted]")
            .field("challenge", &self.challenge.is_some())
            .finish_non_exhaustive()
    }
}

/// What to ask in a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    NextCode,
    NewPin,
    /// The new PIN was refused by the PIN policy: choose another.
    NewPinAgain,
    /// The new PIN is set: log in with it and the next code.
    NewPasscode,
}

impl Prompt {
    /// The text shown to the holder (RADIUS Reply-Message, privacyIDEA
    /// `detail.message`).
    pub fn message(self, lang: Lang) -> String {
        match self {
            Prompt::NextCode => crate::tr!(lang, "gateway-challenge-next-code"),
            Prompt::NewPin => crate::tr!(lang, "gateway-challenge-new-pin"),
            Prompt::NewPinAgain => crate::tr!(lang, "gateway-challenge-new-pin-again"),
            Prompt::NewPasscode => crate::tr!(lang, "gateway-challenge-new-passcode"),
        }
    }

    /// The metrics label.
    pub fn label(self) -> &'static str {
        match self {
            Prompt::NextCode => "challenge_next_code",
            Prompt::NewPin | Prompt::NewPinAgain => "challenge_new_pin",
            Prompt::NewPasscode => "challenge_new_passcode",
        }
    }
}

/// The interface's answer.
#[derive(Debug)]
pub enum Answer {
    Accept {
        rights: Vec<RightInForce>,
    },
    Reject,
    /// The source is over its failure budget: refused unevaluated.
    SourceLimited,
    Challenge {
        id: ChallengeId,
        prompt: Prompt,
    },
}

/// Decides one attempt: the verify service, and the challenges around it.
/// `Err`: nothing was decided (the verify service or the store is
/// unavailable); the client should retry.
pub async fn authenticate(
    app: &AppState,
    challenges: &Challenges,
    attempt: Attempt<'_>,
) -> Result<Answer, StoreError> {
    let Attempt {
        client,
        login,
        password,
        challenge,
        source,
    } = attempt;
    let Some(id) = challenge else {
        return first_attempt(app, challenges, client, login, password, source).await;
    };
    let Some(awaiting) = challenges.take(id, client, login, Instant::now()) else {
        return Ok(Answer::Reject);
    };
    match awaiting {
        Awaiting::Passcode => verify(app, login, &password, source).await,
        Awaiting::NextCode { pin, first } => {
            let owned = (login.to_owned(), first, password.clone());
            let resynced = gateway_write(app, move |tx| {
                tx.gateway_resync(&owned.0, &owned.1, &owned.2)
            })
            .await?;
            // Resynchronised: the second code, after the PIN, is a login.
            // Not: the answer is still a code tried after that PIN, and the
            // verify service decides it as one, counting a wrong one
            // towards lockout like any wrong passcode (it accepts a code
            // that has come back within the window).
            let passcode = Zeroizing::new(format!("{}{}", pin.as_str(), password.as_str()));
            let answer = verify(app, login, &passcode, source).await?;
            Ok(if resynced {
                answer
            } else {
                reject_only(answer)
            })
        }
        Awaiting::NewPin => {
            let owned = (login.to_owned(), password);
            let set = gateway_write(app, move |tx| {
                match tx.gateway_new_pin(&owned.0, &owned.1) {
                    Ok(true) => Ok(Some(true)),
                    Ok(false) => Ok(None),
                    Err(StoreError::Pin(_)) => Ok(Some(false)),
                    Err(other) => Err(other),
                }
            })
            .await?;
            let (awaiting, prompt) = match set {
                None => return Ok(Answer::Reject),
                Some(true) => (Awaiting::Passcode, Prompt::NewPasscode),
                Some(false) => {
                    // A refused PIN is a failed answer: counted by the
                    // verify service like a wrong passcode (the PIN was
                    // reset, so no PIN is right), held, and asked again
                    // only when the failure is not refused otherwise.
                    match verify(app, login, FAILING_PASSCODE, source).await? {
                        Answer::Reject => {}
                        Answer::SourceLimited => return Ok(Answer::SourceLimited),
                        Answer::Accept { .. } | Answer::Challenge { .. } => {
                            return Ok(Answer::Reject)
                        }
                    }
                    (Awaiting::NewPin, Prompt::NewPinAgain)
                }
            };
            Ok(open(challenges, client, login, awaiting, prompt))
        }
    }
}

async fn first_attempt(
    app: &AppState,
    challenges: &Challenges,
    client: &str,
    login: &str,
    password: Zeroizing<String>,
    source: Option<&str>,
) -> Result<Answer, StoreError> {
    // The verify writer's own view of this request says whether its
    // rejection may open a challenge: a plain rejection reads nothing more.
    let probe = ProbeSlot::default();
    let request = request(login, &password, source).probing_challenges(Arc::clone(&probe));
    let answer = decided(app, request).await?;
    if !matches!(answer, Answer::Reject) {
        return Ok(answer);
    }
    if !probe.get().is_some_and(|p| p.due(&password)) {
        return Ok(Answer::Reject);
    }
    let owned = (login.to_owned(), password);
    let reason = gateway_write(app, move |tx| tx.gateway_challenge(&owned.0, &owned.1)).await?;
    Ok(match reason {
        // A code alone that proves nothing (the PIN was reset): a failure,
        // counted by the verify service like a wrong passcode.
        None => match verify(app, login, FAILING_PASSCODE, source).await? {
            Answer::SourceLimited => Answer::SourceLimited,
            _ => Answer::Reject,
        },
        Some(ChallengeReason::NextCode { pin, first }) => open(
            challenges,
            client,
            login,
            Awaiting::NextCode { pin, first },
            Prompt::NextCode,
        ),
        Some(ChallengeReason::NewPin) => {
            open(challenges, client, login, Awaiting::NewPin, Prompt::NewPin)
        }
    })
}

/// A passcode the verify service decides as a wrong PIN for a key whose
/// PIN was reset (it has no PIN verifier): well formed for 6- and 8-digit
/// codes alike (a PIN of 8 or 6 digits), so that it counts as a failure.
const FAILING_PASSCODE: &str = "00000000000000";

/// A failed challenge answer never logs in by itself: an accept is kept (it
/// was the verify service's own decision on a whole passcode), anything
/// else is a rejection.
fn reject_only(answer: Answer) -> Answer {
    match answer {
        Answer::Accept { .. } | Answer::SourceLimited => answer,
        Answer::Reject | Answer::Challenge { .. } => Answer::Reject,
    }
}

fn open(
    challenges: &Challenges,
    client: &str,
    login: &str,
    awaiting: Awaiting,
    prompt: Prompt,
) -> Answer {
    match challenges.open(client, login, awaiting, Instant::now()) {
        Some(id) => Answer::Challenge { id, prompt },
        None => Answer::Reject,
    }
}

/// The verify service's decision, its required delay served on a reject.
async fn verify(
    app: &AppState,
    login: &str,
    passcode: &str,
    source: Option<&str>,
) -> Result<Answer, StoreError> {
    decided(app, request(login, passcode, source)).await
}

fn request(login: &str, passcode: &str, source: Option<&str>) -> VerifyRequest {
    let request = VerifyRequest::new(login, passcode);
    match source {
        Some(source) => request.from_source(source),
        None => request,
    }
}

async fn decided(app: &AppState, request: VerifyRequest) -> Result<Answer, StoreError> {
    Ok(match app.verify(request).await? {
        VerifyOutcome::Accept { rights } => Answer::Accept { rights },
        VerifyOutcome::Reject { hold } => {
            app.hold_reject(hold).await;
            Answer::Reject
        }
        VerifyOutcome::SourceLimited { .. } => Answer::SourceLimited,
    })
}

/// A store write as the gateway, on a blocking thread.
async fn gateway_write<T: Send + 'static>(
    app: &AppState,
    f: impl FnOnce(&mut crate::store::Tx<'_>) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    let store = Arc::clone(app.store());
    tokio::task::spawn_blocking(move || store.write(&Actor::Gateway, "gateway challenge", f))
        .await
        .map_err(|_| StoreError::Unavailable)?
}
