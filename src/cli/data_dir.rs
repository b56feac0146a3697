//! The flags that name one installation's files, shared by `serve`, `init`,
//! `backup`, `restore` and `doctor`: data directory, config file, master
//! key. Under systemd the master key comes from `$CREDENTIALS_DIRECTORY`
//! (`LoadCredential=master.key:…`) unless `--master-key` names it.

use std::path::PathBuf;

use clap::Args;

use crate::config::{Paths, DEFAULT_DATA_DIR};

#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Data directory (database; master key unless kept apart).
    #[arg(long, value_name = "DIR", env = "KEYWARD_DATA", hide_env_values = true, default_value = DEFAULT_DATA_DIR)]
    pub data: PathBuf,
    /// Config file (default: keyward.toml in the data directory; the
    /// package installs /etc/keyward/keyward.toml).
    #[arg(
        long,
        value_name = "FILE",
        env = "KEYWARD_CONFIG",
        hide_env_values = true
    )]
    pub config: Option<PathBuf>,
    /// Master key file (default: systemd's credential `master.key`, else
    /// master.key in the data directory).
    #[arg(
        long,
        value_name = "FILE",
        env = "KEYWARD_MASTER_KEY",
        hide_env_values = true
    )]
    pub master_key: Option<PathBuf>,
}

impl DataArgs {
    /// The files these flags name, with systemd's credentials directory.
    pub fn paths(&self) -> Paths {
        let credentials = std::env::var_os("CREDENTIALS_DIRECTORY").map(PathBuf::from);
        Paths::resolve(
            &self.data,
            self.config.as_deref(),
            self.master_key.as_deref(),
            credentials.as_deref(),
        )
    }
}
