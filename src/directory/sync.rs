//! A sync from a source: the LDAP directory (for the CLI and the daemon's
//! schedule) or an offline export (LDIF or CSV), read whole into a
//! [`Snapshot`], then [`run`](super::run::run) over the store.

use std::path::Path;

use super::ldap::{self, LdapError};
use super::snapshot::{rdns_below, DistrictFile, Entry, Snapshot};
use super::{DirectoryConfig, DistrictMapping};
use crate::store::{Store, StoreError};
use crate::wire::directory::SyncReport;

/// Why a run did not happen (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Ldap(#[from] LdapError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("district mapping file {path}: {why}")]
    DistrictFile { path: String, why: String },
    #[error("{path}: {why}")]
    Export { path: String, why: String },
}

/// The district mapping file, when the config names one.
pub fn district_file(config: &DirectoryConfig) -> Result<Option<DistrictFile>, SyncError> {
    let DistrictMapping::File(path) = &config.reading.mapping else {
        return Ok(None);
    };
    let failed = |why: String| SyncError::DistrictFile {
        path: path.display().to_string(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| failed(e.to_string()))?;
    DistrictFile::parse(&text).map(Some).map_err(failed)
}

/// Reads the directory over LDAP, whole.
pub async fn read_ldap(config: &DirectoryConfig) -> Result<(Snapshot, usize), SyncError> {
    let password = config
        .password_file
        .as_deref()
        .map(ldap::read_password)
        .transpose()?;
    let file = district_file(config)?;
    let (people, schools) = ldap::fetch(config, password.as_deref().map(String::as_str)).await?;
    let count = people.len() + schools.len();
    Ok((
        Snapshot::read(&people, &schools, &config.reading, file.as_ref()),
        count,
    ))
}

/// Reads an export: LDIF (people and schools told apart by their base DN)
/// or, for a `.csv` file, the people's CSV with the schools' CSV beside it.
pub fn read_export(
    path: &Path,
    schools_csv: Option<&Path>,
    config: &DirectoryConfig,
) -> Result<(Snapshot, usize), SyncError> {
    let read = |p: &Path| -> Result<Vec<u8>, SyncError> {
        let failed = |why: String| SyncError::Export {
            path: p.display().to_string(),
            why,
        };
        let meta = std::fs::metadata(p).map_err(|e| failed(e.to_string()))?;
        if meta.len() > super::ldif::MAX_LDIF_BYTES as u64 {
            return Err(failed("too large".to_owned()));
        }
        std::fs::read(p).map_err(|e| failed(e.to_string()))
    };
    let export = |p: &Path, why: String| SyncError::Export {
        path: p.display().to_string(),
        why,
    };
    let reading = &config.reading;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    let (people, schools): (Vec<Entry>, Vec<Entry>) = if is_csv {
        let people = super::csv::parse(
            &read(path)?,
            &reading.attributes.login,
            &reading.people_base,
        )
        .map_err(|e| export(path, e.to_string()))?;
        let schools = match schools_csv {
            Some(s) => super::csv::parse(
                &read(s)?,
                &reading.attributes.school_code,
                &reading.schools_base,
            )
            .map_err(|e| export(s, e.to_string()))?,
            None => Vec::new(),
        };
        (people, schools)
    } else {
        let entries = super::ldif::parse(&read(path)?).map_err(|e| export(path, e.to_string()))?;
        let (schools, rest): (Vec<Entry>, Vec<Entry>) = entries
            .into_iter()
            .partition(|e| rdns_below(&e.dn, &reading.schools_base).is_some());
        let people = rest
            .into_iter()
            .filter(|e| rdns_below(&e.dn, &reading.people_base).is_some_and(|r| !r.is_empty()))
            .collect();
        (people, schools)
    };
    let file = district_file(config)?;
    let count = people.len() + schools.len();
    Ok((
        Snapshot::read(&people, &schools, reading, file.as_ref()),
        count,
    ))
}

/// Reads the directory over LDAP and runs the sync on `store` (the store
/// work on a blocking thread).
pub async fn sync_ldap(
    store: std::sync::Arc<Store>,
    config: &DirectoryConfig,
    options: super::RunOptions,
) -> Result<SyncReport, SyncError> {
    let (snapshot, count) = read_ldap(config).await?;
    let config = config.clone();
    let source = config.url.clone();
    tokio::task::spawn_blocking(move || {
        super::run(&store, &snapshot, count, &source, &config, options)
    })
    .await
    .map_err(|_| SyncError::Store(StoreError::Unavailable))?
    .map_err(SyncError::from)
}

/// The daemon's schedule: a sync every `every`, the first at start; each
/// report goes to `done` (metrics), each failure to the log.
pub async fn schedule(
    store: std::sync::Arc<Store>,
    config: DirectoryConfig,
    every: std::time::Duration,
    done: impl Fn(&SyncReport) + Send + 'static,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sync_ldap(
            std::sync::Arc::clone(&store),
            &config,
            super::RunOptions::default(),
        )
        .await
        {
            Ok(report) => {
                tracing::info!(
                    outcome = report.outcome.as_str(),
                    changes = report.changes.len(),
                    entry_errors = report.errors.len(),
                    failures = report.failures.len(),
                    "directory sync"
                );
                if let Some(why) = &report.stopped {
                    tracing::warn!(why = %why, "directory sync stopped by its guard");
                }
                done(&report);
            }
            Err(err) => tracing::warn!(error = %err, "directory sync failed; nothing changed"),
        }
    }
}
