//! keyward: lifecycle manager and constant-time verifier for personal OTP
//! hardware tokens.
//!
//! # Layout
//!
//! Dependencies point inward. Pure modules import no I/O module:
//!
//! - [`otp`]: HOTP/TOTP maths, credential keys, constant-time window verification.
//!
//! I/O modules (token drivers, store, HTTP API, virtual token) sit around the pure
//! core behind small traits; `cli` and `main` only wire things together.

#![forbid(unsafe_code)]

pub mod cli;
pub mod crypto;
pub mod domain;
pub mod otp;
pub mod secure_fs;
pub mod store;
