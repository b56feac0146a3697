//! The generator against a fake verifier that keeps HOTP state as the
//! daemon does: however many runs follow each other, no holder gets two
//! failures in a row (the delay starts after the third).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::*;

/// Per login: secret key, PIN, next counter, failures in a row, the most
/// failures in a row seen.
type Holders = HashMap<String, (CredentialKey, String, u64, u32, u32)>;

struct Fake(Arc<Mutex<Holders>>);

impl Verifier for Fake {
    fn verify(&mut self, login: &str, passcode: &str, _: &str) -> Result<bool, ClientError> {
        let mut holders = self.0.lock().unwrap();
        let (key, pin, counter, row, worst) = holders.get_mut(login).unwrap();
        let valid = (0..=10)
            .find(|i| format!("{pin}{}", code_at(key, *counter + i, Digits::SIX)) == passcode);
        Ok(match valid {
            Some(i) => {
                *counter += i + 1;
                *row = 0;
                true
            }
            None => {
                *row += 1;
                *worst = (*worst).max(*row);
                false
            }
        })
    }
}

fn credential(n: u32) -> Credential {
    let secret = Secret::from_hex(&format!("{n:08x}{}", "3132333435363738393031323334")).unwrap();
    Credential {
        login: format!("holder{n}"),
        pin: Zeroizing::new("730519".to_owned()),
        secret_hex: Zeroizing::new(String::new()),
        key: CredentialKey::new(Algorithm::Sha1, &secret),
        counter: 0,
        last_accepted: None,
        failed_last: false,
    }
}

#[test]
fn no_holder_gets_two_failures_in_a_row_across_runs() {
    let holders: Holders = (0..4)
        .map(|n| {
            let c = credential(n);
            (
                c.login.clone(),
                (c.key.clone(), "730519".to_owned(), 0, 0, 0),
            )
        })
        .collect();
    let holders = Arc::new(Mutex::new(holders));
    let mut shares = vec![(0..4).map(credential).collect::<Vec<_>>()];
    // Many short runs, each a few requests per holder, at the highest
    // share of wrong codes allowed: where failures used to pile up.
    for _ in 0..200 {
        // As a new run reads them from the credentials file.
        for c in shares.iter_mut().flatten() {
            c.failed_last = false;
        }
        start_clean(&mut shares);
        let mut connect = || -> anyhow::Result<Fake> { Ok(Fake(Arc::clone(&holders))) };
        let (tally, back, _) =
            run_phase(&mut connect, shares, Duration::from_micros(300), 0.49).unwrap();
        assert_eq!(tally.valid_rejected, 0);
        shares = back;
    }
    for (login, (_, _, counter, _, worst)) in holders.lock().unwrap().iter() {
        assert!(*counter > 0, "{login} never accepted");
        assert!(*worst <= 1, "{login}: {worst} failures in a row");
    }
}

/// A daemon that accepts a valid code and loses the answer (the connection
/// breaks): the code is spent. The generator used to send it again, got
/// "code already used" and counted a valid code rejected, on every later
/// visit of that holder too. An unknown outcome is an answer lost, and the
/// holder moves on to the next code.
#[test]
fn an_accept_whose_answer_was_lost_is_not_a_valid_code_rejected() {
    struct Losing {
        inner: Fake,
        lose_next: bool,
    }
    impl Verifier for Losing {
        fn verify(
            &mut self,
            login: &str,
            passcode: &str,
            source: &str,
        ) -> Result<bool, ClientError> {
            let accepted = self.inner.verify(login, passcode, source)?;
            if accepted && std::mem::take(&mut self.lose_next) {
                return Err(ClientError::Protocol {
                    status: 0,
                    why: "connection: unexpected end of file".into(),
                });
            }
            Ok(accepted)
        }
    }
    let c = credential(7);
    let holders: Holders = [(
        c.login.clone(),
        (c.key.clone(), "730519".to_owned(), 0, 0, 0),
    )]
    .into_iter()
    .collect();
    let holders = Arc::new(Mutex::new(holders));
    let mut shares = vec![vec![c]];
    start_clean(&mut shares);
    let mut connect = || -> anyhow::Result<Losing> {
        Ok(Losing {
            inner: Fake(Arc::clone(&holders)),
            lose_next: true,
        })
    };
    let (tally, back, _) = run_phase(&mut connect, shares, Duration::from_millis(20), 0.3).unwrap();
    assert_eq!(tally.answers_lost, 1);
    assert_eq!(tally.valid_rejected, 0, "{:?}", tally.first_error);
    assert!(tally.accepts > 0);
    let counter = back[0][0].counter;
    assert_eq!(counter, holders.lock().unwrap()["holder7"].2, "out of step");
}
