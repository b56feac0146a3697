//! keyward: lifecycle manager and constant-time verifier for personal OTP
//! hardware tokens.
//!
//! # Layout
//!
//! Dependencies point inward. Pure modules import no I/O module:
//!
//! - [`otp`]: HOTP/TOTP maths, credential keys, constant-time window verification.
//! - [`hid`] codec (`hid::crc`, `hid::frame`, `hid::config`, and
//!   `hid::profile::parse_otp_profile`): YubiKey OTP HID frames, status, slot
//!   configurations, the OTP HID firmware profile. No I/O.
//!
//! I/O modules (token drivers, store, HTTP API, virtual token) sit around the pure
//! core behind small traits; `cli` and `main` only wire things together:
//!
//! - `hid::transport` (the 8-byte feature-report seam), `hid::hidapi` (hidraw
//!   devices), `hid::device` (the slot-programming driver over the seam) and
//!   `hid::sim` (a simulated key that types its code when touched).

#![forbid(unsafe_code)]

pub mod cli;
pub mod hid;
pub mod otp;
pub mod server;
