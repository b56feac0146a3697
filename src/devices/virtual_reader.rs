//! The in-process virtual reader: a [`Transport`] that hands APDUs straight
//! to the virtual token applet, its state in a 0600 file of the data
//! directory. Used when no PC/SC reader exists, so a newcomer can run a full
//! cycle without hardware. [`FaultyDevice`] wraps any device to cut the
//! connection after a given number of APDUs (an unplug mid-operation).

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use zeroize::Zeroizing;

use super::Device;
use crate::oath::driver::{Link, TokenError, Transport};
use crate::oath::sim::{CardOptions, FileStore, OathApplet, OsEntropy, VirtualTokenError};

/// Name of the in-process reader.
pub const VIRTUAL_READER: &str = "keyward virtual reader";
/// Its state file in the data directory.
pub const VIRTUAL_STATE_FILE: &str = "virtual-token.toml";

type Card = OathApplet<FileStore, OsEntropy>;

const UNARMED: u32 = u32::MAX;

/// The virtual token in its reader.
pub struct VirtualDevice {
    card: Arc<Mutex<Card>>,
}

impl std::fmt::Debug for VirtualDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtualDevice").finish_non_exhaustive()
    }
}

impl VirtualDevice {
    /// Opens (or creates, with a random serial) the token kept in `state`.
    pub fn open(state: &Path) -> Result<VirtualDevice, VirtualTokenError> {
        VirtualDevice::open_with(state, CardOptions::default())
    }

    /// [`Self::open`] with card options (another personality: tests).
    pub fn open_with(
        state: &Path,
        options: CardOptions,
    ) -> Result<VirtualDevice, VirtualTokenError> {
        let serial = {
            use ring::rand::SecureRandom as _;
            let mut b = [0u8; 4];
            ring::rand::SystemRandom::new()
                .fill(&mut b)
                .map_err(|_| VirtualTokenError::Random)?;
            10_000_000 + u32::from_be_bytes(b) % 90_000_000
        };
        let card = OathApplet::open(FileStore::new(state), OsEntropy::default(), serial, options)?;
        Ok(VirtualDevice {
            card: Arc::new(Mutex::new(card)),
        })
    }
}

struct VirtualTransport {
    card: Arc<Mutex<Card>>,
}

struct VirtualLink<'a> {
    card: MutexGuard<'a, Card>,
}

impl Link for VirtualLink<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        Ok(Zeroizing::new(self.card.process(apdu)))
    }
}

impl Transport for VirtualTransport {
    fn begin(&mut self) -> Result<Box<dyn Link + '_>, TokenError> {
        // A panic inside the applet cannot leave a half-saved state (saves are
        // atomic renames), so a poisoned lock is still a consistent card.
        let mut card = self
            .card
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Each transaction starts from a fresh selection, like a card reset
        // between PC/SC clients.
        card.deselect();
        Ok(Box::new(VirtualLink { card }))
    }

    fn reader(&self) -> &str {
        VIRTUAL_READER
    }
}

impl Device for VirtualDevice {
    fn open(&self) -> Result<Box<dyn Transport + Send>, TokenError> {
        Ok(Box::new(VirtualTransport {
            card: Arc::clone(&self.card),
        }))
    }
}

/// Wraps a device so that, once armed with [`FaultyDevice::arm`], the
/// connection drops at APDU number `after + 1` after the card processed it
/// (its answer is lost) and stays down: an unplug in the middle of an
/// operation.
pub struct FaultyDevice {
    inner: Arc<dyn Device>,
    remaining: Arc<AtomicU32>,
}

impl std::fmt::Debug for FaultyDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultyDevice")
            .field("remaining", &self.remaining.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

impl FaultyDevice {
    pub fn new(inner: Arc<dyn Device>) -> FaultyDevice {
        FaultyDevice {
            inner,
            remaining: Arc::new(AtomicU32::new(UNARMED)),
        }
    }

    /// The next `after` APDUs pass; the one after is processed, then the
    /// token is gone.
    pub fn arm(&self, after: u32) {
        self.remaining
            .store(after.saturating_add(1).min(UNARMED - 1), Ordering::SeqCst);
    }
}

struct FaultyTransport {
    inner: Box<dyn Transport + Send>,
    remaining: Arc<AtomicU32>,
}

struct FaultyLink<'a> {
    inner: Box<dyn Link + 'a>,
    remaining: Arc<AtomicU32>,
}

impl Link for FaultyLink<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let left = self.remaining.load(Ordering::SeqCst);
        if left == UNARMED {
            return self.inner.transmit(apdu);
        }
        if left == 0 {
            return Err(TokenError::Removed {
                operation: "transmit",
            });
        }
        let answer = self.inner.transmit(apdu)?;
        self.remaining.store(left - 1, Ordering::SeqCst);
        if left == 1 {
            return Err(TokenError::Removed {
                operation: "transmit",
            });
        }
        Ok(answer)
    }
}

impl Transport for FaultyTransport {
    fn begin(&mut self) -> Result<Box<dyn Link + '_>, TokenError> {
        let remaining = Arc::clone(&self.remaining);
        Ok(Box::new(FaultyLink {
            inner: self.inner.begin()?,
            remaining,
        }))
    }

    fn reader(&self) -> &str {
        self.inner.reader()
    }
}

impl Device for FaultyDevice {
    fn open(&self) -> Result<Box<dyn Transport + Send>, TokenError> {
        Ok(Box::new(FaultyTransport {
            inner: self.inner.open()?,
            remaining: Arc::clone(&self.remaining),
        }))
    }
}
