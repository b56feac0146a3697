//! keyward's integration tests: one binary, one module per area, one
//! `support` folder of fixtures and harnesses shared by all of them.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

mod api_devices;
mod api_input;
mod api_lists;
mod api_roles;
mod api_routes;
mod api_validate;
mod api_verify;
mod at_rest;
mod audit_proof;
mod backup_restore;
mod cli_bench;
mod cli_client;
mod cli_help;
mod cli_lang;
mod cli_otp;
mod cli_receipts_audit;
mod cli_station;
mod cli_station_pin;
mod concurrency;
mod console_admin;
mod console_batch;
mod console_browser;
mod console_departure;
mod console_glance;
mod console_security;
mod console_staff_signin;
mod console_station_keys;
mod devices_pcsc;
mod directory_daemon;
mod directory_dates;
mod directory_ldap;
mod directory_tls;
mod doctor;
mod driver;
mod driver_trace;
mod e2e_school_year;
mod emergency;
mod forgotten_pin;
mod fuzz_seeds;
mod hardware;
mod hid_desk;
mod hid_driver;
mod hid_hidapi;
mod hid_profile;
mod hid_props;
mod hid_real_keys;
mod hid_serve;
mod hid_sim;
mod hid_yubikit;
mod http_shell;
mod mail_cli;
mod mail_imap;
mod mail_imap_idle;
mod mail_ingest;
mod mail_outbox;
mod mail_scheduled;
mod otp_props;
mod otp_vectors;
mod otp_window;
mod package_deb;
mod parsers_never_panic;
mod pcsc;
mod postgres_failover;
mod postgres_serve;
mod postgres_store;
mod profiles;
mod pskc_import;
mod radius_challenges;
mod radius_peers;
// RADIUS against hostile clients (issue 11).
mod radius_hostile;
mod radsec_peers;
mod rules;
mod school_year;
mod serve_process;
mod token_dialects;
mod transcripts;
mod verify_crash;
mod verify_rules;
// issue 11: verify answers that do not depend on who the login is
mod verify_hostile;
