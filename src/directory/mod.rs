//! The academic directory (`docs/directory.md`, ACADEMY.md §1): keyward
//! follows the authority's LDAP directory for people, schools, districts,
//! appointments and delegations.
//!
//! Pure, sans-io: [`values`] (the FrEdu attribute values: `FrEduRneResp`,
//! `FrEduResDel`, dates, UAI check letters), [`snapshot`] (entries read into
//! typed records, with per-entry errors), [`plan`] (the diff between the
//! directory and keyward, per kind, and the guard), [`ldif`] and [`csv`]
//! (offline exports read into entries), [`config`] (`[directory]`).
//!
//! I/O: [`ldap`] (bind and paged searches with `ldap3`, over [`tls`]), [`run`] (a run
//! over the store: plan, guard, one audited transaction per change, the
//! run's report kept) and [`sync`] (fetch then run, for the CLI and the
//! daemon's schedule).

pub mod config;
pub mod csv;
pub mod ldap;
pub mod ldif;
pub mod plan;
pub mod run;
pub mod snapshot;
pub mod sync;
pub mod tls;
pub mod values;

#[cfg(test)]
mod plan_tests;

pub use config::{Attributes, DirectoryConfig, DistrictMapping, Kind, Reading};
pub use run::{run, status, RunOptions};
pub use snapshot::{DistrictFile, Entry, Snapshot};
