//! Questions to a person at a terminal, or answers read from a pipe (so tests
//! and scripts can drive the station and `keyward verify`). Hidden input never
//! echoes; what is read is kept in zeroizing memory.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::Context as _;
use zeroize::Zeroizing;

/// Where answers come from.
pub struct Prompter {
    input: Box<dyn BufRead>,
    terminal: bool,
}

impl std::fmt::Debug for Prompter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompter")
            .field("terminal", &self.terminal)
            .finish_non_exhaustive()
    }
}

impl Prompter {
    /// Standard input: hidden prompts on a terminal, plain lines from a pipe.
    pub fn stdin() -> Prompter {
        let stdin = std::io::stdin();
        let terminal = stdin.is_terminal();
        Prompter {
            input: Box::new(std::io::BufReader::new(stdin)),
            terminal,
        }
    }

    /// Answers from any reader (tests).
    pub fn from_reader(input: impl BufRead + 'static) -> Prompter {
        Prompter {
            input: Box::new(input),
            terminal: false,
        }
    }

    pub fn is_terminal(&self) -> bool {
        self.terminal
    }

    fn line(&mut self) -> anyhow::Result<Zeroizing<String>> {
        let mut line = Zeroizing::new(String::new());
        let n = self
            .input
            .read_line(&mut line)
            .with_context(|| t!("reading-stdin"))?;
        anyhow::ensure!(n > 0, t!("stdin-ended"));
        let trimmed = Zeroizing::new(line.trim_end_matches(['\r', '\n']).to_owned());
        Ok(trimmed)
    }

    /// A visible answer.
    pub fn ask(&mut self, out: &mut dyn Write, question: &str) -> anyhow::Result<String> {
        write!(out, "{question}")?;
        out.flush()?;
        let answer = self.line()?;
        if !self.terminal {
            writeln!(out)?;
        }
        Ok(answer.trim().to_owned())
    }

    /// A hidden answer (PIN, passcode): no echo on a terminal.
    pub fn secret(
        &mut self,
        out: &mut dyn Write,
        question: &str,
    ) -> anyhow::Result<Zeroizing<String>> {
        if self.terminal {
            out.flush()?;
            let answer =
                rpassword::prompt_password(question).with_context(|| t!("reading-hidden"))?;
            return Ok(Zeroizing::new(answer));
        }
        write!(out, "{question}")?;
        writeln!(out)?;
        out.flush()?;
        self.line()
    }
}
