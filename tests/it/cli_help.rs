//! Snapshots of every `--help` of the CLI (tests/cmd/*.trycmd): a changed
//! help text shows as a diff. After an intended change, regenerate them with
//! `TRYCMD=overwrite cargo test --test it cli_help` and review the diff.
//! A new command needs its `$ keyward … --help` case in tests/cmd/ too.

use crate::support::cli;

#[test]
fn every_help_text_matches_its_snapshot() {
    trycmd::TestCases::new()
        .register_bin("keyward", cli::bin())
        .case("tests/cmd/*.trycmd");
}

#[test]
fn every_command_has_a_help_snapshot() {
    let mut snapshots = Vec::new();
    for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/cmd")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for line in text.lines() {
            if let Some(words) = line
                .strip_prefix("$ keyward")
                .and_then(|l| l.strip_suffix("--help"))
            {
                snapshots.push(words.split_whitespace().collect::<Vec<_>>().join(" "));
            }
        }
    }
    let mut commands: Vec<String> = cli::commands()
        .into_iter()
        .map(|c| c.words.join(" "))
        .collect();
    // `keyward --help` itself.
    commands.push(String::new());
    snapshots.sort();
    commands.sort();
    assert_eq!(snapshots, commands);
}
