//! The vpcd client shell: connects to pcscd's vsmartcard reader over TCP and
//! relays frames (2-byte big-endian length + payload) to the applet. A 1-byte
//! frame is a control: 00 power off, 01 power on, 02 reset, 04 get ATR. If pcscd
//! goes away the shell reconnects. Fault injection lives here, at the bus.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use super::{Entropy, OathApplet, StateStore, VirtualTokenError};

const CTRL_OFF: u8 = 0x00;
const CTRL_ON: u8 = 0x01;
const CTRL_RESET: u8 = 0x02;
const CTRL_ATR: u8 = 0x04;

/// Faults to inject, for reliability tests.
#[derive(Clone, Copy, Debug, Default)]
pub struct Faults {
    /// Close the connection when APDU number N+1 arrives (the token is unplugged).
    pub drop_after: Option<u64>,
    /// With `drop_after`: process that last APDU before dropping (the answer is
    /// lost, the state change is not).
    pub process_dropped: bool,
    /// Answer every APDU with this INS with this status word, without processing.
    pub fail_ins: Option<(u8, u16)>,
}

/// Connects to `addr` and serves the token until a fault drops the connection.
/// Reconnects (every 200 ms) when the connection fails or pcscd restarts.
pub fn serve<S: StateStore, E: Entropy>(
    token: &mut OathApplet<S, E>,
    addr: &str,
    faults: Faults,
) -> Result<(), VirtualTokenError> {
    let mut apdus = 0u64;
    loop {
        let mut stream = match TcpStream::connect(addr) {
            Ok(s) => s,
            Err(err) => {
                tracing::debug!(%addr, %err, "vpcd not reachable; retrying");
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        tracing::info!(%addr, "connected to vpcd");
        match session(token, &mut stream, faults, &mut apdus) {
            Err(VirtualTokenError::InjectedDrop { apdus }) => {
                let _ = stream.shutdown(std::net::Shutdown::Both);
                return Err(VirtualTokenError::InjectedDrop { apdus });
            }
            Err(err) => tracing::info!(%err, "vpcd connection lost; reconnecting"),
            Ok(()) => tracing::info!("vpcd closed the connection; reconnecting"),
        }
        token.deselect();
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn session<S: StateStore, E: Entropy>(
    token: &mut OathApplet<S, E>,
    stream: &mut TcpStream,
    faults: Faults,
    apdus: &mut u64,
) -> Result<(), VirtualTokenError> {
    let addr = stream
        .peer_addr()
        .map_or_else(|_| "vpcd".to_owned(), |a| a.to_string());
    let io = |source| VirtualTokenError::Vpcd {
        addr: addr.clone(),
        source,
    };
    loop {
        // vpcd writes the length and the payload with two send() calls; with
        // Nagle on its side and delayed ACKs on ours every APDU would wait
        // ~40 ms for our ACK of the 2-byte length. Re-arm quick ACKs each time.
        let _ = socket2::SockRef::from(&*stream).set_tcp_quickack(true);
        let mut len = [0u8; 2];
        match stream.read_exact(&mut len) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(io(e)),
        }
        let mut frame = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut frame).map_err(io)?;
        if let [control] = frame.as_slice() {
            tracing::trace!(target: "keyward::vpcd", control, "vpcd control");
        }
        let reply = match frame.as_slice() {
            [] => continue,
            [CTRL_OFF] | [CTRL_ON] | [CTRL_RESET] => {
                token.deselect();
                continue;
            }
            [CTRL_ATR] => token.atr().to_vec(),
            [other] => {
                tracing::debug!(control = other, "unknown vpcd control ignored");
                continue;
            }
            apdu => {
                *apdus += 1;
                if faults.drop_after.is_some_and(|n| *apdus > n) {
                    if faults.process_dropped {
                        token.process(apdu);
                    }
                    return Err(VirtualTokenError::InjectedDrop { apdus: *apdus - 1 });
                }
                match faults.fail_ins {
                    Some((ins, sw)) if apdu.get(1) == Some(&ins) => sw.to_be_bytes().to_vec(),
                    _ => token.process(apdu),
                }
            }
        };
        let mut out = Vec::with_capacity(reply.len() + 2);
        out.extend_from_slice(&(reply.len() as u16).to_be_bytes());
        out.extend_from_slice(&reply);
        stream.write_all(&out).map_err(io)?;
    }
}
