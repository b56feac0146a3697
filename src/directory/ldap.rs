//! The LDAP side (I/O): bind, paged subtree searches of the people and the
//! schools, each entry turned into an [`Entry`]. The whole directory is read
//! before anything is planned, so a connection lost half-way changes
//! nothing.

use std::path::Path;

use ldap3::adapters::{Adapter, EntriesOnly, PagedResults};
use ldap3::{LdapConnAsync, LdapConnSettings, Scope, SearchEntry};
use zeroize::Zeroizing;

use super::snapshot::Entry;
use super::DirectoryConfig;

/// Why the directory could not be read (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum LdapError {
    #[error("cannot connect to {url}: {why}")]
    Connect { url: String, why: String },
    #[error("the directory refused the bind as {dn}: wrong DN or password (result code {code})")]
    Bind { dn: String, code: u32 },
    #[error("searching {base}: {why}")]
    Search { base: String, why: String },
    #[error("the bind password file: {0}")]
    Password(String),
    #[error("the directory answered an entry that does not decode")]
    Malformed,
    #[error("the certificate of {url} is not trusted ({why}): set [directory] ca_file to the authority's CA")]
    Untrusted { url: String, why: String },
    #[error("the directory's CA file {path} {problem}")]
    CaFile {
        path: String,
        problem: super::tls::CaProblem,
    },
}

/// The bind password, from its 0600 file (first line, no newline).
pub fn read_password(path: &Path) -> Result<Zeroizing<String>, LdapError> {
    let bytes = crate::secure_fs::read_private_file(path, 4096)
        .map_err(|e| LdapError::Password(e.to_string()))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| LdapError::Password("not UTF-8".into()))?;
    Ok(Zeroizing::new(
        text.lines().next().unwrap_or_default().to_owned(),
    ))
}

/// Every entry under the people base and the schools base.
pub async fn fetch(
    config: &DirectoryConfig,
    password: Option<&str>,
) -> Result<(Vec<Entry>, Vec<Entry>), LdapError> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(config.timeout)
        .set_starttls(config.starttls);
    if let Some(path) = &config.ca_file {
        let ca_failed = |problem| LdapError::CaFile {
            path: path.display().to_string(),
            problem,
        };
        let roots = super::tls::read_roots(path).map_err(ca_failed)?;
        settings = settings.set_config(super::tls::client_config(roots).map_err(ca_failed)?);
    }
    let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &config.url)
        .await
        .map_err(|e| match super::tls::certificate_problem(&e) {
            Some(why) => LdapError::Untrusted {
                url: config.url.clone(),
                why,
            },
            None => LdapError::Connect {
                url: config.url.clone(),
                why: e.to_string(),
            },
        })?;
    ldap3::drive!(conn);
    if let (Some(dn), Some(password)) = (&config.bind_dn, password) {
        let result = ldap
            .with_timeout(config.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| LdapError::Connect {
                url: config.url.clone(),
                why: e.to_string(),
            })?;
        if result.rc != 0 {
            return Err(LdapError::Bind {
                dn: dn.clone(),
                code: result.rc,
            });
        }
    }
    let attrs = &config.reading.attributes;
    let people_attrs = vec![
        attrs.login.clone(),
        attrs.full_name.clone(),
        attrs.surname.clone(),
        attrs.given_name.clone(),
        attrs.mail.clone(),
        attrs.function.clone(),
        attrs.schools.clone(),
        attrs.delegations.clone(),
        attrs.function_start.clone(),
        attrs.function_end.clone(),
    ];
    let mut school_attrs = vec![attrs.school_code.clone(), attrs.school_name.clone()];
    if let super::DistrictMapping::Attribute(name) = &config.reading.mapping {
        school_attrs.push(name.clone());
    }
    let people = search(
        &mut ldap,
        config,
        &config.reading.people_base,
        &config.people_filter,
        people_attrs,
    )
    .await?;
    let schools = search(
        &mut ldap,
        config,
        &config.reading.schools_base,
        &config.schools_filter,
        school_attrs,
    )
    .await?;
    // The server may already be gone; the entries are read.
    let _ = ldap.unbind().await;
    Ok((people, schools))
}

async fn search(
    ldap: &mut ldap3::Ldap,
    config: &DirectoryConfig,
    base: &str,
    filter: &str,
    attrs: Vec<String>,
) -> Result<Vec<Entry>, LdapError> {
    let failed = |e: ldap3::LdapError| LdapError::Search {
        base: base.to_owned(),
        why: e.to_string(),
    };
    let adapters: Vec<Box<dyn Adapter<'_, String, Vec<String>>>> = vec![
        Box::new(EntriesOnly::new()),
        Box::new(PagedResults::new(config.page_size)),
    ];
    let mut stream = ldap
        .with_timeout(config.timeout)
        .streaming_search_with(adapters, base, Scope::Subtree, filter, attrs)
        .await
        .map_err(failed)?;
    let mut out = Vec::new();
    while let Some(raw) = stream.next().await.map_err(failed)? {
        // ldap3 panics on an entry it cannot decode: a server's bad answer
        // becomes an error here, not a crash of the daemon.
        let decoded =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(raw)))
                .map_err(|_| LdapError::Malformed)?;
        let mut entry = Entry::new(&decoded.dn);
        for (name, values) in decoded.attrs {
            for value in values {
                entry.add(&name, value);
            }
        }
        out.push(entry);
    }
    stream.finish().await.success().map_err(failed)?;
    Ok(out)
}
