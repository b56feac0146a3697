//! Mail for case 3 and the notices (SPEC §2, §8, `docs/mail.md`).
//!
//! Pure:
//!
//! - [`message`]: a message parsed sans-io (Message-ID, From, Cc, subject,
//!   body text, `Authentication-Results`), refused over the size limit.
//! - [`auth`]: the sender authenticated by the authority's own mail server
//!   (`Authentication-Results` with the configured authserv-id).
//! - [`kind`]: what a request is about, from its words, or "to qualify".
//! - [`templates`]: the mails keyward writes, French and English, with the
//!   authority's overrides.
//! - [`calendar`]: which mails of the school year are due on a day.
//!
//! I/O:
//!
//! - [`dkim`]: DKIM verification (`mail-auth`) against pinned keys or DNS.
//! - [`smtp`]: the outbox's sender (SMTP with STARTTLS, `lettre`).
//! - [`service`]: one message in (pipe or IMAP), and the daemon's outbox
//!   loop.
//! - [`imap`]: the mailbox poller (IMAP over TLS), moving what it read to
//!   a folder.

pub mod auth;
pub mod calendar;
pub mod config;
pub mod daemon;
pub mod dkim;
pub mod imap;
pub mod kind;
pub mod message;
pub mod notices;
pub mod outcome;
pub mod service;
pub mod smtp;
pub mod templates;
