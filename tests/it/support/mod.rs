//! Fixtures and harnesses shared by the test modules.

pub mod api;
pub mod cli;
pub mod console;
pub mod dovecot;
pub mod http;
pub mod in_process;
pub mod mail;
pub mod pcscd;
pub mod pg_nodes;
pub mod postgres;
pub mod serve;
pub mod slapd;
pub mod smtp;
pub mod webdriver;
pub mod world;
