//! Real `keyward serve` nodes on PostgreSQL as the gateway reaches them: a
//! SQLite store copied into the database by `keyward store copy`, nodes
//! started in private directories, the gateway's `POST /v1/verify` over
//! HTTP, and the test's own queries on the database.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use keyward::domain::Role;
use keyward::store::postgres::{PgTarget, StoreBackend};
use serde_json::{json, Value};

use super::cli;
use super::serve::{serve, Served};
use super::world::{desk, World};

pub fn private_dir(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(path).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).unwrap();
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// `POST /v1/verify` on `node`: the status and the answer's `result`.
pub fn verify(
    agent: &ureq::Agent,
    node: &Served,
    key: &str,
    login: &str,
    passcode: &str,
) -> (u16, String) {
    let (status, body) = verify_answer(agent, node, key, login, passcode);
    (status, body["result"].as_str().unwrap_or("").to_owned())
}

/// `POST /v1/verify` on `node`: the status and the whole answer.
pub fn verify_answer(
    agent: &ureq::Agent,
    node: &Served,
    key: &str,
    login: &str,
    passcode: &str,
) -> (u16, Value) {
    let mut answer = agent
        .post(format!("{}/v1/verify", node.url))
        .header("authorization", &format!("Bearer {key}"))
        .send_json(json!({ "login": login, "passcode": passcode }))
        .unwrap();
    let status = answer.status().as_u16();
    (status, answer.body_mut().read_json().unwrap())
}

/// A gateway API key made in `world`'s SQLite store (copied with it).
pub fn gateway_key(world: &World) -> String {
    api_key(world, "gateway", Role::Gateway, None, None)
}

/// An API key made in `world`'s SQLite store (copied with it): `role`,
/// scoped to `district`, belonging to the person of login `person`.
pub fn api_key(
    world: &World,
    name: &str,
    role: Role,
    district: Option<&str>,
    person: Option<&str>,
) -> String {
    let person = person.map(crate::support::world::pid);
    world
        .store
        .write(&desk(), "setup", |tx| {
            tx.create_api_key(name, role, district, &[], person.as_ref())
        })
        .unwrap()
        .key
        .to_string()
}

/// `keyward store copy` of the SQLite store in `data` into the database of
/// `url` (the real path an authority takes): its output.
pub fn store_copy(data: &Path, url: &str, password: &Path, clock: &Path) -> String {
    cli::stdout_ok(
        cli::keyward(["store", "copy", "--data"])
            .arg(data)
            .arg("--to")
            .arg(url)
            .arg("--password-file")
            .arg(password)
            .env("KEYWARD_TEST_CLOCK", clock),
    )
}

/// `keyward serve` as the node `name` on the database of `url`, its
/// `keyward.toml` in the private directory `dir/name` (with the top-level
/// lines `keys`), with the master key `master` and the test clock `clock`.
pub fn start_node(
    dir: &Path,
    name: &str,
    url: &str,
    password: &Path,
    master: &Path,
    clock: &Path,
    keys: &str,
) -> Served {
    let dir = dir.join(name);
    private_dir(&dir);
    let config = dir.join("keyward.toml");
    std::fs::write(
        &config,
        format!(
            "authority_domain = \"ac-exemple.fr\"\n{keys}[store]\nurl = \"{}\"\npassword_file = \"{}\"\nnode = \"{name}\"\n",
            url,
            password.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        let private = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(&config, private).unwrap();
    }
    Served::start(
        serve(
            &dir,
            &[
                "--master-key",
                master.to_str().unwrap(),
                "--pcsc",
                "off",
                "--hid",
                "off",
            ],
        )
        .env("KEYWARD_TEST_CLOCK", clock)
        .stderr(std::process::Stdio::null()),
    )
}

/// The database of `url` as the test's own client reaches it.
pub fn target(url: &str, password: &Path) -> PgTarget {
    match StoreBackend::from_keys(url, Some(password), None).unwrap() {
        StoreBackend::Postgres(t) => t,
        StoreBackend::Sqlite => panic!("sqlite"),
    }
}

/// One query on the database, as the test's own client.
pub fn query(target: &PgTarget, sql: &str) -> Vec<tokio_postgres::Row> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pool = keyward::store::postgres::connect(target, 1).await.unwrap();
        let client = pool.get().await.unwrap();
        client.query(sql, &[]).await.unwrap()
    })
}
