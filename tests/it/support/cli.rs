//! The `keyward` binary run as a user runs it: one-shot commands through
//! `assert_cmd` (arguments, client environment, standard input, exit code,
//! what it printed), and long-running ones (serve, sim, batch, watch) as
//! child processes whose output lines a test waits for.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader, Read};
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use assert_cmd::Command;

/// The binary cargo built for these tests.
pub fn bin() -> &'static Path {
    assert_cmd::cargo::cargo_bin!("keyward")
}

/// `keyward ARGS`, without the test's own `KEYWARD_URL`/`KEYWARD_API_KEY`,
/// printing in English (`KEYWARD_LANG=en`) so tests read one language; the
/// `cli_lang` tests choose theirs with `--lang`.
pub fn keyward<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env_remove("KEYWARD_URL")
        .env_remove("KEYWARD_API_KEY")
        .env("KEYWARD_LANG", "en");
    cmd
}

/// `keyward ARGS` as a client of the daemon at `url`, with API key `key`.
pub fn client<I, S>(url: &str, key: &str, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = keyward(args);
    cmd.env("KEYWARD_URL", url).env("KEYWARD_API_KEY", key);
    cmd
}

/// Bytes a command printed, as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `cmd` to its end and returns what it printed, whatever its exit code.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run keyward")
}

/// Runs `cmd`, which must exit 0, and returns its standard output.
pub fn stdout_ok(cmd: &mut Command) -> String {
    text(&cmd.assert().success().get_output().stdout)
}

/// Runs `cmd`, which must exit 0, and parses its standard output as JSON.
pub fn json_ok(cmd: &mut Command) -> serde_json::Value {
    serde_json::from_str(&stdout_ok(cmd)).expect("JSON on stdout")
}

/// Runs `cmd`, which must exit with `code`; returns (stdout, stderr).
pub fn exits(cmd: &mut Command, code: i32) -> (String, String) {
    let assert = cmd.assert().code(code);
    let out = assert.get_output();
    (text(&out.stdout), text(&out.stderr))
}

/// Runs another tool (oathtool, ykman, tmux), which must exit 0; returns its
/// standard output.
pub fn tool<I, S>(program: &str, args: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    stdout_ok(Command::new(program).args(args))
}

/// One command of the CLI: its words after `keyward` (`["tokens",
/// "prepare"]`) and whether it only groups subcommands.
pub struct CliCommand {
    pub words: Vec<String>,
    pub is_group: bool,
}

/// Every command of the CLI, groups before their subcommands, from clap's
/// own tree (`keyward::cli::Cli`): what the binary parses is the list.
pub fn commands() -> Vec<CliCommand> {
    fn walk(command: &clap::Command, words: &[String], out: &mut Vec<CliCommand>) {
        for sub in command.get_subcommands() {
            let mut words = words.to_vec();
            words.push(sub.get_name().to_owned());
            out.push(CliCommand {
                words: words.clone(),
                is_group: sub.has_subcommands(),
            });
            walk(sub, &words, out);
        }
    }
    let mut out = Vec::new();
    walk(
        &<keyward::cli::Cli as clap::CommandFactory>::command(),
        &[],
        &mut out,
    );
    out
}

/// `keyward init --json --data DATA`; returns the admin key it prints once.
pub fn init(data: &Path) -> String {
    let init = json_ok(keyward(["init", "--json", "--data"]).arg(data));
    init["admin_key"].as_str().expect("admin_key").to_owned()
}

/// `keyward ARGS` as a long-running child process (serve, sim, batch,
/// watch), stdout piped, stderr shown with the test's output.
pub fn process<I, S>(args: I) -> std::process::Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = std::process::Command::new(bin());
    cmd.args(args)
        .env_remove("KEYWARD_URL")
        .env_remove("KEYWARD_API_KEY")
        .env("KEYWARD_LANG", "en")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd
}

/// `keyward ARGS` (see [`process`]) left running while the test waits for
/// its output lines; killed when dropped, so a failing test leaves nothing
/// behind.
pub struct Running {
    child: std::process::Child,
    pub lines: Lines,
}

impl Running {
    pub fn start<I, S>(args: I) -> Running
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut child = process(args).spawn().expect("spawn keyward");
        let lines = Lines::of(child.stdout.take().expect("stdout piped"));
        Running { child, lines }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child's output lines, read on a thread so that a test waits for a line
/// rather than for time to pass; keeps what it read for failure messages.
pub struct Lines {
    lines: Receiver<String>,
    pub transcript: String,
}

impl Lines {
    pub fn of(output: impl Read + Send + 'static) -> Lines {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(output).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Lines {
            lines: rx,
            transcript: String::new(),
        }
    }

    /// Waits (60 s at most: a loaded machine drives the simulated tokens
    /// slowly) for a line containing `needle` and returns it.
    pub fn wait_for(&mut self, needle: &str) -> String {
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| {
                    panic!(
                        "no line with {needle:?}; output so far:\n{}",
                        self.transcript
                    )
                });
            self.transcript.push_str(&line);
            self.transcript.push('\n');
            if line.contains(needle) {
                return line;
            }
        }
    }
}
