//! PC/SC transport on the `pcsc` crate (pcsc-lite). One `Card` per token; each
//! operation runs in one `SCardBeginTransaction`/`SCardEndTransaction` pair.

use std::ffi::CString;

use zeroize::Zeroizing;

use super::{Link, TokenError, Transport};

/// Largest short response: 256 data bytes + SW.
const RECV_BUFFER: usize = 258;

fn pcsc_err(context: &'static str, source: ::pcsc::Error) -> TokenError {
    match source {
        ::pcsc::Error::RemovedCard
        | ::pcsc::Error::ResetCard
        | ::pcsc::Error::NoSmartcard
        | ::pcsc::Error::ReaderUnavailable
        | ::pcsc::Error::UnpoweredCard
        | ::pcsc::Error::UnresponsiveCard
        | ::pcsc::Error::CommError => TokenError::Removed { operation: context },
        // Another client (typically GnuPG's scdaemon) holds the card in
        // exclusive mode.
        ::pcsc::Error::SharingViolation => TokenError::HeldByAnotherProgram,
        source => TokenError::Pcsc { context, source },
    }
}

/// A PC/SC context (the connection to pcscd).
pub struct Pcsc {
    context: ::pcsc::Context,
}

impl std::fmt::Debug for Pcsc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pcsc")
    }
}

impl Pcsc {
    pub fn establish() -> Result<Pcsc, TokenError> {
        let context = ::pcsc::Context::establish(::pcsc::Scope::User)
            .map_err(|e| pcsc_err("establish context", e))?;
        Ok(Pcsc { context })
    }

    pub fn context(&self) -> &::pcsc::Context {
        &self.context
    }

    /// Reader names; an empty list when there are none.
    pub fn readers(&self) -> Result<Vec<String>, TokenError> {
        match self.context.list_readers_owned() {
            Ok(names) => Ok(names
                .into_iter()
                .map(|n| n.to_string_lossy().into_owned())
                .collect()),
            Err(::pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
            Err(e) => Err(pcsc_err("list readers", e)),
        }
    }

    /// Connects (shared mode) to the card in `reader`.
    pub fn connect(&self, reader: &str) -> Result<PcscTransport, TokenError> {
        let name = CString::new(reader)
            .map_err(|_| TokenError::Invalid("reader name contains NUL".into()))?;
        let card = self
            .context
            .connect(&name, ::pcsc::ShareMode::Shared, ::pcsc::Protocols::ANY)
            .map_err(|e| match e {
                ::pcsc::Error::NoSmartcard => TokenError::NoCard {
                    reader: reader.to_owned(),
                },
                ::pcsc::Error::SharingViolation => TokenError::HeldByAnotherProgram,
                e => pcsc_err("connect", e),
            })?;
        Ok(PcscTransport {
            card,
            reader: reader.to_owned(),
        })
    }
}

/// A connected card.
pub struct PcscTransport {
    card: ::pcsc::Card,
    reader: String,
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .finish()
    }
}

struct PcscLink<'c> {
    tx: ::pcsc::Transaction<'c>,
}

impl Link for PcscLink<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Zeroizing<Vec<u8>>, TokenError> {
        let mut buf = Zeroizing::new([0u8; RECV_BUFFER]);
        let answer = self
            .tx
            .transmit(apdu, &mut buf[..])
            .map_err(|e| pcsc_err("transmit", e))?;
        // vpcd (and some readers) hand back an empty answer when the card went
        // away during the command: no status word means no answer at all.
        if answer.len() < 2 {
            return Err(TokenError::Removed {
                operation: "transmit",
            });
        }
        Ok(Zeroizing::new(answer.to_vec()))
    }
}

impl Transport for PcscTransport {
    /// Begins a transaction. If another client reset the card since our last
    /// operation (every PC/SC client resets on disconnect, keyward included, so
    /// no session state leaks between clients), reconnect once and retry: the
    /// reset happened between our operations, so nothing of ours was cut.
    fn begin(&mut self) -> Result<Box<dyn Link + '_>, TokenError> {
        let reader = &self.reader;
        match self.card.transaction2() {
            Ok(tx) => Ok(Box::new(PcscLink { tx })),
            Err((card, ::pcsc::Error::ResetCard)) => {
                tracing::debug!(%reader, "card was reset by another client; reconnecting");
                card.reconnect(
                    ::pcsc::ShareMode::Shared,
                    ::pcsc::Protocols::ANY,
                    ::pcsc::Disposition::LeaveCard,
                )
                .map_err(|e| pcsc_err("reconnect after reset", e))?;
                let tx = card
                    .transaction()
                    .map_err(|e| pcsc_err("begin transaction", e))?;
                Ok(Box::new(PcscLink { tx }))
            }
            Err((_, e)) => Err(pcsc_err("begin transaction", e)),
        }
    }

    fn reader(&self) -> &str {
        &self.reader
    }
}
