//! A real OpenLDAP `slapd` for the directory tests: a temporary directory
//! with a `slapd.conf`, the FrEdu schema written for the tests (the
//! ministry publishes none), an `mdb` database loaded with `slapadd`, on a
//! loopback port. Fails, never skips, when slapd or the LDAP tools are
//! missing. Also the fictional authority the tests load.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const SLAPD: &str = "/usr/sbin/slapd";
pub const SLAPADD: &str = "/usr/sbin/slapadd";
pub const LDAPMODIFY: &str = "/usr/bin/ldapmodify";
pub const SUFFIX: &str = "dc=ac-test,dc=fr";
pub const ROOT_DN: &str = "cn=admin,dc=ac-test,dc=fr";
pub const ROOT_PW: &str = "slapd-test-secret";
pub const PEOPLE: &str = "ou=people,dc=ac-test,dc=fr";
pub const SCHOOLS: &str = "ou=schools,dc=ac-test,dc=fr";

/// The FrEdu attributes (ACADEMY.md §1), under the documentation arc
/// 1.3.6.1.4.1.32473 (RFC 5612): strings, multi-valued where the directory
/// has several values.
pub const FREDU_SCHEMA: &str = r#"
attributetype ( 1.3.6.1.4.1.32473.16.1.1 NAME 'FrEduFonctAdm'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.16.1.2 NAME 'FrEduRneResp'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.32473.16.1.3 NAME 'FrEduRne'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.32473.16.1.4 NAME 'FrEduResDel'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.32473.16.1.5 NAME 'dateff'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.32473.16.1.6 NAME 'finfonction'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.16.2.1 NAME 'FrEduPerson' SUP top AUXILIARY
  MAY ( FrEduFonctAdm $ FrEduRneResp $ FrEduRne $ FrEduResDel $ dateff $ finfonction ) )
"#;

/// Fails (never skips) when a tool is missing.
pub fn require_tools() {
    for tool in [SLAPD, SLAPADD, LDAPMODIFY] {
        assert!(
            Path::new(tool).exists(),
            "{tool} is missing: run .ci/setup (Debian packages slapd and ldap-utils)"
        );
    }
}

pub struct Slapd {
    pub dir: tempfile::TempDir,
    pub port: u16,
    /// The `ldaps://` port, when started with TLS.
    pub tls_port: Option<u16>,
    child: Option<Child>,
}

/// A test CA (rcgen) and the server certificate it signs for 127.0.0.1.
pub struct TestTls {
    pub ca_pem: String,
    pub cert_pem: String,
    pub key_pem: String,
}

impl TestTls {
    pub fn new() -> TestTls {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "keyward directory test CA");
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "ldap.ac-test.fr");
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &ca).unwrap();
        TestTls {
            ca_pem: ca.pem(),
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

impl Slapd {
    /// A slapd loaded with `ldif` (the suffix entry is added here).
    pub fn start(ldif: &str) -> Slapd {
        Slapd::start_with(ldif, None)
    }

    /// A slapd loaded with `ldif` that also speaks TLS with `tls`'s server
    /// certificate: StartTLS on [`Slapd::url`], TLS from the start on
    /// [`Slapd::ldaps_url`].
    pub fn start_tls(ldif: &str, tls: &TestTls) -> Slapd {
        Slapd::start_with(ldif, Some(tls))
    }

    fn start_with(ldif: &str, tls: Option<&TestTls>) -> Slapd {
        require_tools();
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("db")).unwrap();
        std::fs::write(root.join("fredu.schema"), FREDU_SCHEMA).unwrap();
        let mut conf = conf(root);
        if let Some(tls) = tls {
            for (name, pem) in [
                ("ca.pem", &tls.ca_pem),
                ("server.pem", &tls.cert_pem),
                ("server.key", &tls.key_pem),
            ] {
                std::fs::write(root.join(name), pem).unwrap();
            }
            let root = root.display();
            conf = format!(
                "TLSCACertificateFile {root}/ca.pem\nTLSCertificateFile {root}/server.pem\n\
                 TLSCertificateKeyFile {root}/server.key\n{conf}"
            );
        }
        std::fs::write(root.join("slapd.conf"), conf).unwrap();
        let mut all = format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: ac-test\no: Academie de test\n\n\
             dn: {PEOPLE}\nobjectClass: organizationalUnit\nou: people\n\n\
             dn: {SCHOOLS}\nobjectClass: organizationalUnit\nou: schools\n\n"
        );
        all.push_str(ldif);
        std::fs::write(root.join("load.ldif"), all).unwrap();
        let out = Command::new(SLAPADD)
            .arg("-q")
            .arg("-f")
            .arg(root.join("slapd.conf"))
            .arg("-l")
            .arg(root.join("load.ldif"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut slapd = Slapd {
            dir,
            port: 0,
            tls_port: tls.map(|_| 0),
            child: None,
        };
        slapd.run();
        slapd
    }

    pub fn url(&self) -> String {
        format!("ldap://127.0.0.1:{}", self.port)
    }

    /// The `ldaps://` URL of a server started with TLS.
    pub fn ldaps_url(&self) -> String {
        format!(
            "ldaps://127.0.0.1:{}",
            self.tls_port.expect("started with TLS")
        )
    }

    fn conf_path(&self) -> PathBuf {
        self.dir.path().join("slapd.conf")
    }

    /// Starts (or starts again) the server on a free loopback port (the
    /// same port on a restart when it is still free).
    pub fn run(&mut self) {
        let free = |port: u16| {
            if port != 0 {
                port
            } else {
                TcpListener::bind("127.0.0.1:0")
                    .unwrap()
                    .local_addr()
                    .unwrap()
                    .port()
            }
        };
        for _ in 0..20 {
            let port = free(self.port);
            let tls_port = self.tls_port.map(free);
            let mut urls = format!("ldap://127.0.0.1:{port}/");
            if let Some(p) = tls_port {
                urls.push_str(&format!(" ldaps://127.0.0.1:{p}/"));
            }
            let mut child = Command::new(SLAPD)
                .arg("-f")
                .arg(self.conf_path())
                .arg("-h")
                .arg(urls)
                .arg("-d")
                .arg("0")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok()
                    && tls_port.is_none_or(|p| TcpStream::connect(("127.0.0.1", p)).is_ok())
                {
                    self.port = port;
                    self.tls_port = tls_port;
                    self.child = Some(child);
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            self.port = 0;
            self.tls_port = self.tls_port.map(|_| 0);
        }
        panic!("slapd did not start");
    }

    /// Stops the server (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Applies an LDIF change record with `ldapmodify` as the root DN.
    pub fn modify(&self, ldif: &str) {
        let mut child = Command::new(LDAPMODIFY)
            .args(["-x", "-H", &self.url(), "-D", ROOT_DN, "-w", ROOT_PW])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(ldif.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "ldapmodify: {}\n{ldif}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A file holding the root password (0600), for `password_file`.
    pub fn password_file(&self, password: &str) -> PathBuf {
        let path = self.dir.path().join(format!("bind-{}.pw", password.len()));
        keyward::secure_fs::create_private_file(&path, format!("{password}\n").as_bytes()).unwrap();
        path
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn conf(root: &Path) -> String {
    let root = root.display();
    format!(
        "include /etc/ldap/schema/core.schema\n\
         include /etc/ldap/schema/cosine.schema\n\
         include /etc/ldap/schema/inetorgperson.schema\n\
         include {root}/fredu.schema\n\
         modulepath /usr/lib/ldap\n\
         moduleload back_mdb\n\
         pidfile {root}/slapd.pid\n\
         database mdb\n\
         maxsize 4294967296\n\
         suffix \"{SUFFIX}\"\n\
         rootdn \"{ROOT_DN}\"\n\
         rootpw {ROOT_PW}\n\
         directory {root}/db\n\
         dbnosync\n\
         index objectClass eq\n\
         index uid eq\n\
         index FrEduFonctAdm eq\n\
         index FrEduResDel pres\n"
    )
}

/// A school code with its check letter: the `n`-th of the authority.
pub fn school_code(n: usize) -> String {
    const LETTERS: &[u8; 23] = b"ABCDEFGHJKLMNPRSTUVWXYZ";
    let number = 750_000 + n;
    format!("{number:07}{}", char::from(LETTERS[number % 23]))
}

/// The district (`C01`…) of school `n` among `districts`.
pub fn district_of(n: usize, schools: usize, districts: usize) -> String {
    format!("C{:02}", n * districts / schools + 1)
}

/// A fictional authority: `districts` districts, `schools` schools, one
/// inspector per district, one director per school, teachers up to
/// `people`, every 20th teacher a deputy with a delegation in force.
pub fn authority(districts: usize, schools: usize, people: usize) -> String {
    let mut out = String::with_capacity(people * 400);
    for d in 1..=districts {
        out.push_str(&format!(
            "dn: ou=C{d:02},{SCHOOLS}\nobjectClass: organizationalUnit\nou: C{d:02}\ndescription: Circonscription {d}\n\n"
        ));
    }
    for n in 0..schools {
        let code = school_code(n);
        let district = district_of(n, schools, districts);
        out.push_str(&format!(
            "dn: ou={code},ou={district},{SCHOOLS}\nobjectClass: organizationalUnit\nou: {code}\ndescription: Ecole {n}\n\n"
        ));
    }
    let mut count = 0;
    for d in 1..=districts {
        let first = (0..schools)
            .find(|n| district_of(*n, schools, districts) == format!("C{d:02}"))
            .unwrap();
        out.push_str(&person(&format!("ien{d:02}"), "IEN1D", &[first], &[]));
        count += 1;
    }
    for n in 0..schools {
        out.push_str(&person(&format!("dir{n:05}"), "DIR", &[n], &[]));
        count += 1;
    }
    let mut t = 0;
    while count < people {
        let delegation = (t % 20 == 0).then(|| {
            let school = t % schools;
            let inspector = district_of(school, schools, districts).replace('C', "ien");
            delegation(school, "01/09/2026", "31/12/9999", &inspector)
        });
        out.push_str(&person(
            &format!("ens{t:05}"),
            "ENS",
            &[],
            &delegation.into_iter().collect::<Vec<_>>(),
        ));
        t += 1;
        count += 1;
    }
    out
}

/// A `FrEduResDel` value of keyward's application.
pub fn delegation(school: usize, from: &str, until: &str, delegator: &str) -> String {
    format!(
        "keyward|https://keyward.ac-test.fr|{from}|{until}|{delegator}|FrEduRneResp={}$UAJ$PU$N$T3$LP$320|srv||",
        school_code(school)
    )
}

/// A person's entry.
pub fn person(uid: &str, function: &str, schools: &[usize], delegations: &[String]) -> String {
    let mut out = format!(
        "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nobjectClass: FrEduPerson\nuid: {uid}\n\
         cn: Personne {uid}\nsn: {uid}\ngivenName: Personne\nmail: {uid}@ac-exemple.fr\nFrEduFonctAdm: {function}\n"
    );
    for s in schools {
        out.push_str(&format!(
            "FrEduRneResp: {}$UAJ$PU$N$T3$LP$320\n",
            school_code(*s)
        ));
    }
    for d in delegations {
        out.push_str(&format!("FrEduResDel: {d}\n"));
    }
    out.push('\n');
    out
}
