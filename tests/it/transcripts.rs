//! Byte-exact YKOATH transcripts (tests/data/ykoath-transcripts.txt) against the
//! virtual token in-process: every instruction, the management applet, the
//! device PIN, chaining, 61xx, and malformed frames.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failure should stop loudly

use crate::support::in_process;

const FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/ykoath-transcripts.txt"
);

fn unhex(s: &str) -> Vec<u8> {
    data_encoding::HEXUPPER
        .decode(s.replace(' ', "").to_ascii_uppercase().as_bytes())
        .unwrap_or_else(|e| panic!("bad hex {s:?}: {e}"))
}

fn fresh() -> in_process::Card {
    in_process::card(12_345_678, 64)
}

/// Runs the file; returns (mismatches, the file with actual answers).
fn run(text: &str) -> (Vec<String>, String, usize) {
    let mut token = fresh();
    let mut out = String::new();
    let mut last = Vec::new();
    let mut block = String::new();
    let mut failures = Vec::new();
    let mut checked = 0;
    for (n, line) in text.lines().enumerate() {
        if let Some(name) = line.strip_prefix("== ") {
            token = fresh();
            block = name.to_owned();
        } else if line == "! power" {
            token.deselect();
        } else if let Some(cmd) = line.strip_prefix("> ") {
            last = token.process(&unhex(cmd));
        } else if let Some(expected) = line.strip_prefix("< ") {
            let actual = data_encoding::HEXUPPER.encode(&last);
            if expected.replace(' ', "") != actual {
                failures.push(format!(
                    "line {} ({block}): expected {expected}, got {actual}",
                    n + 1
                ));
            }
            checked += 1;
            out.push_str(&format!("< {actual}\n"));
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    (failures, out, checked)
}

#[test]
fn ykoath_transcripts_are_byte_exact() {
    let text = std::fs::read_to_string(FILE).unwrap();
    let (failures, actual, checked) = run(&text);
    if std::env::var_os("KEYWARD_BLESS").is_some() {
        std::fs::write(FILE, actual).unwrap();
        return;
    }
    assert!(checked > 90, "only {checked} exchanges");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The runner itself notices a single changed byte in any answer.
#[test]
fn a_tampered_answer_is_caught() {
    let text = std::fs::read_to_string(FILE).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let answers: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("< "))
        .collect();
    for &i in answers.iter().step_by(7) {
        let mut tampered: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
        let hex = &tampered[i][2..];
        // Flip the last nibble (part of the status word).
        let mut chars: Vec<char> = hex.chars().collect();
        let lastc = chars.len() - 1;
        chars[lastc] = if chars[lastc] == '0' { '1' } else { '0' };
        tampered[i] = format!("< {}", chars.into_iter().collect::<String>());
        let (failures, _, _) = run(&tampered.join("\n"));
        assert_eq!(failures.len(), 1, "line {}", i + 1);
    }
}
