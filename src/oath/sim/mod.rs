//! keyward's virtual token (`keyward sim`): a card applet ([`applet`]) generic
//! over its state store ([`state`]) and its randomness, and the thin vpcd client
//! ([`vpcd`]) that plugs it into pcscd's vsmartcard reader.

pub mod applet;
pub mod personality;
mod pin;
pub mod state;
pub mod vpcd;

use std::path::PathBuf;

pub use applet::{CardOptions, OathApplet};
pub use personality::{Family, Personality, Touch};
pub use state::{AppletState, FileStore, HexSecret, MemoryStore, StateStore};

/// Errors of the virtual token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VirtualTokenError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: state file is corrupt: {message}")]
    CorruptState { path: PathBuf, message: String },
    #[error("the system random number generator failed")]
    Random,
    #[error("vpcd at {addr}: {source}")]
    Vpcd {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("fault injection: connection dropped after {apdus} APDUs")]
    InjectedDrop { apdus: u64 },
}

/// Where salts and challenges come from.
pub trait Entropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), VirtualTokenError>;

    fn bytes8(&mut self) -> Result<[u8; 8], VirtualTokenError> {
        let mut b = [0u8; 8];
        self.fill(&mut b)?;
        Ok(b)
    }
}

/// The OS CSPRNG.
#[derive(Debug)]
pub struct OsEntropy(ring::rand::SystemRandom);

impl Default for OsEntropy {
    fn default() -> Self {
        OsEntropy(ring::rand::SystemRandom::new())
    }
}

impl Entropy for OsEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), VirtualTokenError> {
        use ring::rand::SecureRandom as _;
        self.0.fill(buf).map_err(|_| VirtualTokenError::Random)
    }
}

/// Deterministic bytes (a counter) so transcripts are byte-exact. Tests only.
#[derive(Debug, Default)]
pub struct CountingEntropy(pub u8);

impl Entropy for CountingEntropy {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), VirtualTokenError> {
        for b in buf {
            *b = self.0;
            self.0 = self.0.wrapping_add(1);
        }
        Ok(())
    }
}
