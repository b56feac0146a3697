//! The transaction's side of the failure counters' table
//! (`store::verify::counters`): readers see a credential's counters as they
//! are, and a new, unlocked or re-PINed credential starts from zero there.

use super::Tx;
use crate::store::verify::{counters, phantom::Phantoms};
use crate::store::StoreError;

impl Tx<'_> {
    pub(super) fn phantoms(&self) -> Phantoms {
        Phantoms::new(self.shared.keys.row_key().clone())
    }

    /// No failure, no lock, no delay for credential `id`.
    pub(super) fn reset_counters(&self, id: i64) -> Result<(), StoreError> {
        counters::reset(&self.phantoms(), self.db, id)
    }
}
