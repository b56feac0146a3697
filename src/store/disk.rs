//! Room left on the data directory's file system: a gauge for the metrics,
//! and a refusal to start the verify service when it is nearly full (a
//! daemon that cannot write its counters and audit must not answer).

use std::path::Path;

use super::StoreError;

/// The data directory's file system, in bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskSpace {
    pub total: u64,
    /// Available to keyward (not counting the blocks reserved for root).
    pub available: u64,
}

/// Below this much room the verify service does not start: 256 MiB, or 2 %
/// of the file system when that is more (capped at 4 GiB).
pub const MIN_AVAILABLE_BYTES: u64 = 256 << 20;
const MIN_AVAILABLE_PERCENT: u64 = 2;
const MIN_AVAILABLE_CAP: u64 = 4 << 30;

impl DiskSpace {
    /// The file system holding `path`.
    pub fn of(path: &Path) -> Result<DiskSpace, StoreError> {
        let stat = rustix::fs::statvfs(path).map_err(|_| StoreError::DiskUnreadable {
            path: path.display().to_string(),
        })?;
        Ok(DiskSpace {
            total: stat.f_blocks.saturating_mul(stat.f_frsize),
            available: stat.f_bavail.saturating_mul(stat.f_frsize),
        })
    }

    /// The least room the verify service starts with, on this file system.
    pub fn minimum(self) -> u64 {
        (self.total / 100 * MIN_AVAILABLE_PERCENT).clamp(MIN_AVAILABLE_BYTES, MIN_AVAILABLE_CAP)
    }

    pub fn nearly_full(self) -> bool {
        self.available < self.minimum()
    }

    /// Refuses, with a typed error, a file system that is nearly full.
    pub fn check(self, path: &Path) -> Result<DiskSpace, StoreError> {
        if self.nearly_full() {
            return Err(StoreError::DiskNearlyFull {
                path: path.display().to_string(),
                available_mib: self.available >> 20,
                needed_mib: self.minimum() >> 20,
            });
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearly_full_is_the_larger_of_256_mib_and_two_percent() {
        let gib = 1u64 << 30;
        let at = |total, available| DiskSpace { total, available };
        assert!(at(4 * gib, 255 << 20).nearly_full());
        assert!(!at(4 * gib, 256 << 20).nearly_full());
        assert!(at(100 * gib, gib).nearly_full());
        assert!(!at(100 * gib, 3 * gib).nearly_full());
        assert!(!at(10_000 * gib, 5 * gib).nearly_full());
        let err = at(100 * gib, gib)
            .check(Path::new("/srv/keyward"))
            .unwrap_err();
        assert!(matches!(
            err,
            StoreError::DiskNearlyFull {
                available_mib: 1024,
                needed_mib: 2048,
                ..
            }
        ));
    }

    #[test]
    fn a_real_file_system_is_read() {
        let space = DiskSpace::of(Path::new("/")).unwrap();
        assert!(space.total >= space.available && space.total > 0);
        assert!(DiskSpace::of(Path::new("/no/such/dir")).is_err());
    }
}
