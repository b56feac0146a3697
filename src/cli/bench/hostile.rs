//! `bench verify --idle-connections N`: N hostile connections held open to
//! the daemon while it is measured, half idle (connect, send nothing) and
//! half trickling a request head a byte every half second, spread over
//! loopback source addresses 127.0.0.2 and up (64 a source). A connection
//! the daemon closes is opened again a tenth of a second later, so about N
//! stay open or pending all along. Issue 11's figure: verify p99 with 2,000
//! of them.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Connections a source address opens.
const PER_SOURCE: usize = 64;

/// The hostile clients, stopped when dropped.
pub(super) struct Hostile {
    pub(super) reopened: Arc<AtomicU64>,
    stop: Option<tokio::sync::watch::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Hostile {
    pub(super) fn start(target: SocketAddr, count: usize) -> anyhow::Result<Hostile> {
        crate::server::raise_open_files_limit();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let reopened = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let counter = Arc::clone(&reopened);
        let thread = std::thread::Builder::new()
            .name("keyward-bench-hostile".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let mut tasks = tokio::task::JoinSet::new();
                    for n in 0..count {
                        let block = u32::try_from(2 + n / PER_SOURCE).unwrap_or(u32::MAX);
                        let source = IpAddr::from((0x7f00_0000u32 | block).to_be_bytes());
                        tasks.spawn(one(target, source, n % 2 == 1, Arc::clone(&counter)));
                    }
                    let mut stopped = stopped;
                    let _ = stopped.wait_for(|s| *s).await;
                    tasks.abort_all();
                });
            })?;
        Ok(Hostile {
            reopened,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(true);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One hostile client, forever: connect from `source`, stay silent or
/// trickle, and when closed connect again.
async fn one(target: SocketAddr, source: IpAddr, trickle: bool, reopened: Arc<AtomicU64>) {
    const HEAD: &[u8] = b"POST /v1/verify HTTP/1.1\r\nHost: x\r\nX-Padding: ";
    loop {
        if let Ok(socket) = tokio::net::TcpSocket::new_v4() {
            if socket.bind(SocketAddr::new(source, 0)).is_ok() {
                if let Ok(mut stream) = socket.connect(target).await {
                    let mut sink = [0u8; 256];
                    let mut sent = 0usize;
                    loop {
                        let wait = tokio::time::sleep(Duration::from_millis(500));
                        tokio::select! {
                            read = stream.read(&mut sink) => {
                                if !matches!(read, Ok(n) if n > 0) {
                                    break;
                                }
                            }
                            () = wait => {
                                if trickle {
                                    let byte = HEAD.get(sent).copied().unwrap_or(b'a');
                                    sent += 1;
                                    if stream.write_all(&[byte]).await.is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        reopened.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
