//! The gateway's view of verify through `app()`: a required delay is served
//! by holding the answer (never by a field or header), and a caller over its
//! failure budget gets 429 with Retry-After. Time is tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::support::api;

use api::{api, Call};
use serde_json::json;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_delay_after_the_third_failure_is_served_by_holding_the_answer() {
    let api = api();
    let wrong = json!({"login": "jdupont", "passcode": "483920000000"});
    let verify = Call::post("/v1/verify").by(&api.keys.gateway).json(wrong);
    for attempt in 1..=3 {
        let started = tokio::time::Instant::now();
        let (status, bytes) = api.send_raw(verify.clone()).await;
        let held = started.elapsed();
        assert_eq!(status, 200);
        assert_eq!(bytes, br#"{"result":"reject"}"#.to_vec());
        if attempt < 3 {
            assert!(
                held < std::time::Duration::from_secs(1),
                "attempt {attempt} held {held:?}"
            );
        } else {
            assert!(
                held >= std::time::Duration::from_secs(1),
                "attempt 3 answered after {held:?}"
            );
        }
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_source_over_its_failure_budget_gets_429() {
    let api = api();
    let mut last = None;
    for n in 0..60 {
        // A different unknown login each time, one end user address: only that
        // source's budget runs out.
        let body = json!({"login": format!("nobody{n}"), "passcode": "483920000000", "source": "203.0.113.7"});
        let (status, value) = api.verify(&body).await;
        if status == 429 {
            last = Some((n, value));
            break;
        }
        assert_eq!(value, json!({"result": "reject"}));
    }
    let (n, value) = last.expect("no 429 within 60 failures");
    assert!(n >= 50, "limited after {n} failures");
    assert_eq!(value["error"]["code"], "rate_limited");
    api.assert_metrics(&[
        "keyward_verify_total{outcome=\"source_limited\"} 1",
        "keyward_verify_total{outcome=\"unknown_login\"} 50",
    ])
    .await;
    // Another end user behind the same gateway is not limited.
    let body =
        json!({"login": "nobody-else", "passcode": "483920000000", "source": "198.51.100.1"});
    let (status, value) = api.verify(&body).await;
    assert_eq!((status.as_u16(), value), (200, json!({"result": "reject"})));
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_gateway_itself_is_never_the_source() {
    // Without a source, failures of many users through one gateway never
    // shut the gateway out (each credential still locks on its own).
    let api = api();
    for n in 0..60 {
        let body = json!({"login": format!("nobody{n}"), "passcode": "483920000000"});
        let (status, value) = api.verify(&body).await;
        assert_eq!(
            (status.as_u16(), value),
            (200, json!({"result": "reject"})),
            "request {n}"
        );
    }
    // A malformed source is refused before anything is decided.
    let body = json!({"login": "jdupont", "passcode": "483920000000", "source": ""});
    let verify = Call::post("/v1/verify").by(&api.keys.gateway);
    api.assert_invalid(verify.json(body), "source").await;
}
