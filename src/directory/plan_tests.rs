//! Table tests of the diff and its guard.
#![allow(clippy::unwrap_used)]
