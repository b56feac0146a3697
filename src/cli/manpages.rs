//! Hidden commands the Debian package build runs: the man pages (one per
//! command, from the same definitions as `--help`) and the shell
//! completions.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  keyward manpages target/man")]
pub struct ManpagesArgs {
    /// Directory to write `keyward.1`, `keyward-tokens.1`, … into (created).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(after_help = "Example:\n  keyward completions target/completions")]
pub struct CompletionsArgs {
    /// Directory to write `keyward.bash`, `_keyward` and `keyward.fish` into
    /// (created).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

fn create(dir: &PathBuf) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))
}

pub fn man(args: ManpagesArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    create(&args.dir)?;
    clap_mangen::generate_to(super::Cli::command(), &args.dir)
        .with_context(|| format!("writing man pages into {}", args.dir.display()))?;
    writeln!(out, "man pages written into {}", args.dir.display())?;
    Ok(())
}

pub fn completions(args: CompletionsArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    create(&args.dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path =
            clap_complete::generate_to(shell, &mut super::Cli::command(), "keyward", &args.dir)
                .with_context(|| format!("writing {shell} completions"))?;
        writeln!(out, "{}", path.display())?;
    }
    Ok(())
}
