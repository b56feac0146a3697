//! Starts `keyward serve --init` as a real process and waits for the lines it
//! prints when ready: the admin key (once, from `--init`) and the address.
#![allow(dead_code)]

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Served {
    pub child: Child,
    pub addr: SocketAddr,
    pub admin_key: String,
}

/// `keyward serve --init --listen 127.0.0.1:0 --data DATA` plus `extra` flags.
pub fn serve_init(data: &Path, extra: &[&str]) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["serve", "--init", "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--data")
        .arg(data)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut admin_key = None;
    let addr: SocketAddr = loop {
        let line = lines
            .next()
            .expect("serve exited before listening")
            .unwrap();
        if let Some(key) = line.strip_prefix("admin API key: ") {
            admin_key = Some(key.to_owned());
        }
        if let Some(url) = line.strip_prefix("keyward: listening on http://") {
            break url.parse().unwrap();
        }
    };
    Served {
        child,
        addr,
        admin_key: admin_key.expect("the admin key is printed once by --init"),
    }
}
