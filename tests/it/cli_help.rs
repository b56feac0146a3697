//! Snapshots of every `--help` of the CLI (tests/cmd/*.trycmd): a changed
//! help text shows as a diff. After an intended change, regenerate them with
//! `TRYCMD=overwrite cargo test --test it cli_help` and review the diff.

use crate::support::cli;

#[test]
fn every_help_text_matches_its_snapshot() {
    trycmd::TestCases::new()
        .register_bin("keyward", cli::bin())
        .case("tests/cmd/*.trycmd");
}
