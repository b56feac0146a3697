//! A real IMAP server for the mailbox tests: Debian's Dovecot, run as the
//! test's own instance (its own config, base_dir and maildir in a temp
//! dir, IMAPS on a loopback port, a certificate of the test CA). One
//! account, static password. Missing Dovecot fails the test.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::smtp::{free_port, TestCa};

pub const USER: &str = "assistance";
pub const PASSWORD: &str = "imap-test-password";
/// The unprivileged user Dovecot's mail processes run as.
const MAIL_UID: u32 = 65534;

pub struct Dovecot {
    child: Child,
    pub port: u16,
    /// The plain IMAP port, where only STARTTLS leads to a login.
    pub starttls_port: u16,
    pub dir: PathBuf,
    config: PathBuf,
}

impl Dovecot {
    pub fn start(dir: &Path, ca: &TestCa) -> Dovecot {
        Dovecot::start_with(dir, ca, "")
    }

    /// [`Dovecot::start`] with `extra` settings appended to its configuration.
    pub fn start_with(dir: &Path, ca: &TestCa, extra: &str) -> Dovecot {
        let port = free_port();
        let starttls_port = free_port();
        for sub in ["mail", "home"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
            std::os::unix::fs::chown(dir.join(sub), Some(MAIL_UID), Some(MAIL_UID)).unwrap();
        }
        // The mail processes must reach their folders.
        let mut p = dir.to_path_buf();
        loop {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode();
            if mode & 0o001 == 0 && p.starts_with(std::env::temp_dir()) {
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode | 0o711))
                    .unwrap();
            }
            if !p.pop() || !p.starts_with(std::env::temp_dir()) {
                break;
            }
        }
        let d = dir.display();
        let config = dir.join("dovecot.conf");
        std::fs::write(
            &config,
            format!(
                "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\n\
                 protocols = imap\nlisten = 127.0.0.1\nssl = required\n\
                 ssl_cert = <{cert}\nssl_key = <{key}\n\
                 auth_mechanisms = plain\ndisable_plaintext_auth = yes\n\
                 default_login_user = dovenull\ndefault_internal_user = dovecot\n\
                 first_valid_uid = 100\n\
                 passdb {{\n  driver = static\n  args = password={PASSWORD}\n}}\n\
                 userdb {{\n  driver = static\n  args = uid={MAIL_UID} gid={MAIL_UID} home={d}/home/%u\n}}\n\
                 mail_location = maildir:{d}/mail/%u\n\
                 service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {starttls_port}\n  }}\n  \
                 inet_listener imaps {{\n    address = 127.0.0.1\n    port = {port}\n    ssl = yes\n  }}\n}}\n{extra}\n",
                cert = ca.cert.display(),
                key = ca.key.display(),
            ),
        )
        .unwrap();
        let child = Command::new("/usr/sbin/dovecot")
            .args(["-F", "-c"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("/usr/sbin/dovecot must be installed (dovecot-imapd, .ci/setup)");
        let mut dovecot = Dovecot {
            child,
            port,
            starttls_port,
            dir: dir.to_owned(),
            config,
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = dovecot.child.try_wait() {
                panic!(
                    "dovecot exited ({status}): {}",
                    std::fs::read_to_string(dir.join("dovecot.log")).unwrap_or_default()
                );
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        dovecot
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("dovecot.log")).unwrap_or_default()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}
