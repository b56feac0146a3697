//! keyward: lifecycle manager and constant-time verifier for personal OTP
//! hardware tokens.
//!
//! # Layout
//!
//! Dependencies point inward. Pure modules import no I/O module:
//!
//! - [`otp`]: HOTP/TOTP maths, credential keys, constant-time window verification.
//! - [`domain`]: the authority's rules: dates and the injected clock, school codes,
//!   rights in force, the token state machine, help-request senders, receipts,
//!   reports, and the verify policy (failures, delay, lockout).
//! - [`crypto`]: keys derived from the master key, AES-256-GCM sealing bound to
//!   credential and token, the PIN verifier and policy, the Ed25519 receipt key
//!   (computation only, plus reading and writing the master key file).
//!
//! I/O modules sit around the pure core:
//!
//! - [`secure_fs`]: private files and directories (0700/0600, no symlinks,
//!   owned by the running user).
//! - [`store`]: SQLite (WAL, one place that opens and commits write
//!   transactions), migrations, lifecycle operations, the hash-chained audit,
//!   and the verify service (group commit, unsealed-key cache).
//!
//! Token drivers, the HTTP API and the virtual token join them the same way;
//! `cli` and `main` only wire things together.

#![forbid(unsafe_code)]

pub mod cli;
pub mod crypto;
pub mod domain;
pub mod otp;
pub mod secure_fs;
pub mod store;
