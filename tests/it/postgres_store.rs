//! keyward on PostgreSQL (docs/postgres.md): the harness's real server,
//! the `[store]` configuration against it, and the verify decision's
//! guarantees with two nodes writing to one database.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use keyward::store::postgres::{self as pg, PgError, PgTarget, StoreBackend};

use crate::support::postgres::{self as harness, TestDb};

fn target(db: &TestDb, dir: &std::path::Path) -> PgTarget {
    let file = db.password_file(dir);
    match StoreBackend::from_keys(&db.url(), Some(&file)).unwrap() {
        StoreBackend::Postgres(target) => target,
        StoreBackend::Sqlite => panic!("a postgres:// url parsed as SQLite"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_harness_runs_postgres_15_and_the_store_logs_in_with_its_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (
        harness::database("harness one"),
        harness::database("harness two"),
    );
    assert_ne!(one.name, two.name, "one database per test");
    let target = target(&one, dir.path());
    let pool = pg::connect(&target, 2).await.unwrap();
    let client = pool.get().await.unwrap();
    let version: String = client
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    assert!(version.starts_with("15."), "{version}");
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('credentials', 'audit', 'audit_head')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(tables, 3, "the migrations ran");
    // A second node connecting finds the schema current and changes nothing.
    pg::connect(&target, 1).await.unwrap();
    let version: i64 = client
        .query_one("SELECT version FROM keyward_schema", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(version, pg::schema::CURRENT_VERSION);

    // A wrong password is refused by the server; the error does not show it.
    let wrong = dir.path().join("wrong.password");
    keyward::secure_fs::create_private_file(&wrong, b"not-the-password-xyz\n").unwrap();
    let bad = PgTarget {
        password_file: wrong,
        ..target.clone()
    };
    let err = pg::connect(&bad, 1).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(matches!(err, PgError::Db(_) | PgError::Pool(_)), "{shown}");
    assert!(!shown.contains("not-the-password-xyz"), "{shown}");
    assert!(!shown.contains(harness::PASSWORD), "{shown}");
}
