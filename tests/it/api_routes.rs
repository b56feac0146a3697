//! The router, `Operation::ALL` and docs/api.md list the same routes:
//! nothing documented that does not exist, nothing existing that is not
//! documented. The router is built from `Operation::ALL` and the
//! unauthenticated routes only, so probing those shows what it serves.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use keyward::api::{Operation, UNAUTHENTICATED};

use crate::support::api::{api, sample_path, Call};

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Every `` `METHOD /path` `` in docs/api.md, without its query part.
fn documented() -> BTreeSet<(String, String)> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md")).unwrap();
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter_map(|quoted| {
            let (method, path) = quoted.split_once(' ')?;
            if !METHODS.contains(&method) || !path.starts_with('/') {
                return None;
            }
            let path = path.split(['[', '?']).next()?;
            Some((method.to_owned(), path.to_owned()))
        })
        .collect()
}

fn in_code() -> BTreeSet<(String, String)> {
    Operation::ALL
        .iter()
        .map(|op| (op.method().to_string(), op.path().to_owned()))
        .chain(
            UNAUTHENTICATED
                .iter()
                .map(|(m, p)| (m.to_string(), (*p).to_owned())),
        )
        .collect()
}

#[test]
fn docs_and_operations_list_the_same_routes() {
    let documented = documented();
    let in_code = in_code();
    let undocumented: Vec<_> = in_code.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&in_code).collect();
    assert!(
        undocumented.is_empty(),
        "not in docs/api.md: {undocumented:?}"
    );
    assert!(missing.is_empty(), "documented, not served: {missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_serves_every_operation_on_its_method_only() {
    let api = api();
    for &op in Operation::ALL {
        let path = sample_path(op, &api.serial);
        for &method in METHODS {
            let (status, value) = api.send(Call::new(method, &path)).await;
            // Without a key every operation is 401; another method on the
            // same path is 405, a path nobody serves 404.
            let served = Operation::ALL
                .iter()
                .any(|o| o.path() == op.path() && o.method().as_str() == method);
            let expected = if served { 401 } else { 405 };
            assert_eq!(status.as_u16(), expected, "{method} {path}: {value}");
        }
    }
    for (method, path) in UNAUTHENTICATED {
        let (status, _) = api.send(Call::new(method.as_str(), *path)).await;
        assert_eq!(status.as_u16(), 200, "{method} {path}");
    }
}
