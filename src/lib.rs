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
//! - [`apdu`]: ISO 7816-4 commands and responses, typed status words, chaining and
//!   the `61xx` loop as a pure state machine.
//! - [`oath::codec`]: the YKOATH codec, shared by the host driver and the virtual token.
//! - [`profile`]: firmware profiles (`firmware-profiles/*.toml`) and the udev rules
//!   generated from them.
//! - [`wire`]: the HTTP API's request and answer types and its error codes,
//!   shared by the server and the client.
//! - [`hid::codec`] (`crc`, `frame`, `config`, and
//!   `profile::parse_otp_profile`): YubiKey OTP HID frames, status, slot
//!   configurations, the OTP HID firmware profile.
//!
//! I/O modules sit around the pure core behind small traits:
//!
//! - [`secure_fs`]: private files and directories (0700/0600, no symlinks,
//!   owned by the running user).
//! - [`store`]: SQLite (WAL, one place that opens and commits write
//!   transactions), migrations, lifecycle operations, the hash-chained audit,
//!   and the verify service (group commit, unsealed-key cache).
//! - [`oath::driver`]: the PC/SC host driver (a `Transport` trait, PC/SC over the `pcsc`
//!   crate, the reader watcher).
//! - [`hid::driver`]: `transport` (the 8-byte feature-report seam), `hidapi` (hidraw
//!   devices), `device` (the slot-programming driver over the seam); and
//!   `hid::sim` (a simulated key that types its code when touched).
//! - [`oath::sim`]: the virtual token: an applet generic over its state store and
//!   randomness, wrapped by a thin vpcd client.
//! - [`config`]: `keyward.toml` parsed into validated settings, the request
//!   limits, and the daemon's clock (a file-driven test clock only with the
//!   `test-clock` feature).
//! - [`server`]: the HTTP server shell (listener, limits, graceful shutdown).
//! - [`devices`]: reader presence (PC/SC watcher, HID poller, in-process
//!   virtual reader), one flow per device operation (prepare with pending
//!   write and recovery, possession codes, device PIN, wipe) over the
//!   `devices::family::TokenFamily` seam, which `devices::oath` (YKOATH over
//!   PC/SC) and `devices::hid_key` (touch keys: OTP slots over HID)
//!   implement, and the device event channel.
//! - [`api`]: the v1 HTTP API (`docs/api.md`): `app(state) -> Router`, bearer
//!   roles and scopes, one error type with stable codes, metrics, events.
//!
//! - [`client`]: the blocking HTTP client of the v1 API (`docs/api.md`) and its
//!   server-sent-event reader, used by the CLI, the station and the load generator.
//!
//! `cli` and `main` only wire things together.

#![forbid(unsafe_code)]

pub mod apdu;
pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod crypto;
pub mod devices;
pub mod domain;
pub mod hid;
pub mod oath;
pub mod otp;
pub mod profile;
pub mod secure_fs;
pub mod server;
pub mod store;
pub mod wire;
