//! keyward: lifecycle manager and constant-time verifier for personal OTP
//! hardware tokens.
//!
//! # Layout
//!
//! Dependencies point inward: pure modules (no file, socket, device or clock
//! read) import no I/O module; I/O modules sit around them behind small
//! traits; the binary's `main` and [`cli`] sit on top.
//!
//! Pure:
//!
//! - [`otp`]: HOTP/TOTP maths: secrets and precomputed HMAC states (`key`),
//!   digits and constant-time truncation (`code`), credential parameters
//!   (`params`), the token side's plain HMAC (`raw`), constant-time window
//!   verification and resynchronisation (`verify`).
//! - [`domain`]: the authority's rules (`docs/lifecycle.md`): dates, the
//!   injected clock and the authority's local day, school codes, people and
//!   actors, rights in force, roles, API key records, the token state
//!   machine, help-request senders, receipts, reports and the verify policy
//!   (failures, delay, lockout).
//! - [`crypto`]: keys derived from the master key, AES-256-GCM sealing bound
//!   to credential and token, the PIN verifier and policy, the audit and row
//!   MAC keys, the Ed25519 receipt key and the signed audit checkpoints
//!   (`checkpoint`) (computation, plus reading and writing the master key
//!   file), and the sealed backup file format (`crypto::backup`).
//! - [`apdu`]: ISO 7816-4 commands and responses, typed status words,
//!   chaining and the `61xx` loop as a state machine, the PIN commands.
//! - [`oath::codec`]: the YKOATH codec (TLV, typed requests and responses),
//!   shared by the host driver and the virtual token.
//! - [`hid::codec`]: YubiKey OTP HID: CRC-16 (`crc`), frames, status,
//!   serial and device info (`frame`), slot configurations and access codes
//!   (`config`), typed codes on AZERTY and QWERTY stations (`keyboard`), the
//!   OTP HID firmware profile (`profile`).
//! - [`profile`]: firmware profiles (`firmware-profiles/*.toml`: matching,
//!   capabilities, quirks, each family's dialect) and the udev rules
//!   generated from them (parsing takes text; `load_dir` reads files).
//! - [`wire`]: the HTTP API's request and answer types and its error codes,
//!   shared by the server and the client.
//! - [`i18n`]: the message catalogue (every text a person reads, French and
//!   English, as Fluent files embedded in the binary) and how times and
//!   dates are shown in a time zone.
//!
//! I/O:
//!
//! - [`secure_fs`]: private files and directories (0700/0600, no symlinks,
//!   owned by the running user), and the config file check (group-readable).
//! - [`config`]: where an installation's files are (`Paths`: data
//!   directory, config file, master key from systemd's credentials),
//!   `keyward.toml` parsed into validated settings (listen
//!   addresses, limits, mail domain, time zone, verify windows), and the
//!   daemon's clock (a file-driven test clock only with the `test-clock`
//!   feature).
//! - [`store`]: SQLite (WAL, the one place that opens and commits write
//!   transactions), the schema and its migrations, the hash-chained audit
//!   (`audit`), the checkpoint file (`checkpoints`), a data directory read
//!   without a daemon (`offline`), the state rows' MACs
//!   (`row_mac`), the verify service (`verify`: group commit, unsealed-key
//!   cache), backup and restore and the daemon's lock (`backup`), and the
//!   lifecycle operations in `store::ops`, one file per
//!   aggregate: `people` (with districts and schools), `rights`, `tokens`,
//!   `requests`, `receipts`, `reports`, `api_keys`, `pending_writes`,
//!   `device_pins`, `access_codes`.
//! - [`oath::driver`]: the PC/SC host driver (a `Transport` trait, PC/SC over
//!   the `pcsc` crate, the reader watcher).
//! - [`oath::sim`]: the virtual token: an applet generic over its state store
//!   and randomness, its personalities (YubiKey 5, Nitrokey 3 with its APDU
//!   dispatcher), its device PIN (`pin`), and the thin vpcd client that plugs
//!   it into pcscd.
//! - [`hid::driver`]: `transport` (the 8-byte feature-report seam), `hidapi`
//!   (hidraw devices), `device` (the slot-programming driver over the seam).
//! - [`hid::sim`]: a simulated touch key behind the transport seam, which
//!   types its code when touched.
//! - [`devices`]: reader presence (PC/SC watcher, HID poller, in-process
//!   virtual reader) and the device event channel; `devices::family`, the
//!   seam a token family implements, by `devices::oath` (YKOATH over PC/SC)
//!   and `devices::hid_key` (touch keys: OTP slots over HID);
//!   `devices::operations`, one flow per operation for every family
//!   (prepare with pending write and recovery, possession, activation,
//!   wipe); `devices::pin`, the desk's device PIN unblock.
//! - [`server`]: the HTTP server shell (listeners, plain or TLS (`tls`);
//!   admission of connections: a cap, a share per source, eviction of the
//!   longest-idle, an immediate `503` when all are busy (`admission`); each
//!   connection served by hyper with header, idle and request timeouts
//!   (`connection`); graceful shutdown).
//! - [`gateway`]: what RADIUS and `/validate/check` share: the RSA-style
//!   challenges (next code, new PIN) around the verify service.
//! - [`radius`]: RADIUS for gateways: the packet codec (`packet`, pure:
//!   parsing, authenticators, hidden passwords), the declared clients and
//!   their secrets (`config`), the UDP service asking the verify service
//!   (`server`).
//! - [`console`]: the web console under `/` (sessions, pages by role,
//!   slips with QR codes), a client of the API's operations in process.
//! - [`api`]: the v1 HTTP API (`docs/api.md`): `app(state) -> Router`, the
//!   `Operation` enum (each operation's roles, audit name and route), bearer
//!   keys and scopes (`auth`), the `Permit` that runs an operation for a
//!   caller, one error type with stable codes, metrics; the handlers in
//!   `api::routes`, one file per resource.
//! - [`directory`]: the academic directory (LDAP) sync: pure readers of
//!   the FrEdu values, entries, LDIF and CSV exports, the diff and its guard;
//!   the `ldap3` client and the run over the store (`docs/directory.md`).
//! - [`client`]: the blocking HTTP client of the v1 API and its
//!   server-sent-event reader, used by the CLI, the station and the load
//!   generator.
//!
//! On top:
//!
//! - [`cli`]: the command line: clap definitions, one file per resource (the
//!   same nouns as `api::routes` and `store::ops`) calling the client and
//!   printing its answers, exit codes; and the commands that are tools of
//!   their own: `serve` (wires config, store, devices, API and server), `init`,
//!   `station` (the handover loop), `bench` (the verify load generator),
//!   `otp` (the offline calculator), `reader`, `sim`, `backup`/`restore`,
//!   `doctor` (checks an installation), `manpages`/`completions` (hidden,
//!   for the Debian package); `touch`, the touch prompts and typed codes
//!   shared by the token commands and the station.
//! - `main` (the binary): logging (to the journal under systemd), then
//!   [`cli::run`], errors mapped to exit
//!   codes. It only wires things together.

#![forbid(unsafe_code)]

pub mod apdu;
pub mod api;
pub mod cli;
pub mod client;
pub mod config;
pub mod console;
pub mod crypto;
pub mod devices;
pub mod directory;
pub mod domain;
pub mod fuzz_targets;
pub mod gateway;
pub mod hid;
pub mod i18n;
pub mod mail;
pub mod oath;
pub mod otp;
pub mod profile;
pub mod pskc;
pub mod radius;
pub mod secure_fs;
pub mod server;
pub mod store;
pub mod wire;
