//! The audit of the console's batch preparations (`crate::console::batch`):
//! a batch lives in the daemon's memory, its keys are prepared by the
//! prepare operation (audited there); its start and its cancellation are
//! audited here, as the desk person who asked.

use super::Tx;
use crate::store::StoreError;

impl Tx<'_> {
    /// `console.batch.start`: batch `id` at `reader` for `holders` (in order).
    pub fn record_console_batch_start(
        &mut self,
        id: u64,
        reader: &str,
        holders: &[String],
    ) -> Result<(), StoreError> {
        self.audit(
            "console.batch.start",
            reader,
            &format!("batch={id} holders={}", holders.join(",")),
        )
    }

    /// `console.batch.cancel`: batch `id` at `reader`, cancelled.
    pub fn record_console_batch_cancel(&mut self, id: u64, reader: &str) -> Result<(), StoreError> {
        self.audit("console.batch.cancel", reader, &format!("batch={id}"))
    }
}
