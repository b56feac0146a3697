//! The RADIUS authentication service (docs/radius.md): screens each
//! datagram (declared client, well-formed packet, Message-Authenticator),
//! answers retransmissions from a short cache, and hands Access-Requests to
//! the same verify service as `POST /v1/verify`. Its answer maps the verify
//! outcome; it never decides one itself.
//!
//! [`RadiusService::answer`] is the whole exchange for one datagram and
//! does no socket I/O; [`serve`] is the UDP shell around it.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt as _};
use tokio::net::UdpSocket;
use zeroize::Zeroizing;

use super::admission::{Admission, PENDING, PENDING_PER_SOURCE};
use super::config::{Client, RightsAttribute};
use super::packet::{attr, Builder, Code, Packet, MAX_PACKET};
use crate::api::AppState;
use crate::domain::RightInForce;
use crate::gateway::{authenticate, Answer, Attempt, Challenges};

/// How long a reply is kept for retransmissions of its request (RFC 5080
/// §2.2.2 suggests a few seconds; clients retry after 3 to 5).
pub const RETRANSMIT_WINDOW: Duration = Duration::from_secs(5);
/// Most requests remembered at once (about 100 bytes each): 6.5 s of
/// 20,000 requests/s. Past it, a request is decided without being
/// remembered (the verify service's replay check still holds).
const RECENT_LIMIT: usize = 131_072;
/// Calling-Station-Id (RFC 2865 §5.31): the end user's address as the
/// gateway saw it, the per-source limiter's key.
const CALLING_STATION_ID: u8 = 31;

/// A request as RFC 5080 identifies it: client address and port,
/// identifier, Request Authenticator.
type RequestKey = (SocketAddr, u8, [u8; 16]);

/// What the cache knows about a request.
enum Seen {
    New,
    /// Being decided: a retransmission is dropped, the reply will follow.
    InFlight,
    Answered(Arc<Vec<u8>>),
}

/// When a request was first seen, and its reply once decided.
type Remembered = (Instant, Option<Arc<Vec<u8>>>);

/// The requests of the last [`RETRANSMIT_WINDOW`], and the order in which
/// they expire: each datagram costs O(1), however many are remembered.
#[derive(Default)]
struct Recent {
    entries: HashMap<RequestKey, Remembered>,
    /// (time, key) in the order entries were begun or answered; an item
    /// whose time no longer matches its entry is stale and skipped.
    expiry: VecDeque<(Instant, RequestKey)>,
}

impl Recent {
    /// Forgets the requests begun or answered longer than the window ago
    /// (as before: a request still undecided by then is new again).
    fn expire(&mut self, now: Instant) {
        while let Some(&(at, key)) = self.expiry.front() {
            if now.duration_since(at) < RETRANSMIT_WINDOW {
                break;
            }
            self.expiry.pop_front();
            if let Some((seen, _)) = self.entries.get(&key) {
                if *seen == at {
                    self.entries.remove(&key);
                }
            }
        }
    }

    fn begin(&mut self, key: RequestKey, now: Instant) -> Seen {
        self.expire(now);
        if let Some((at, reply)) = self.entries.get(&key) {
            if now.duration_since(*at) < RETRANSMIT_WINDOW {
                return match reply {
                    Some(bytes) => Seen::Answered(Arc::clone(bytes)),
                    None => Seen::InFlight,
                };
            }
        }
        // Full of live entries: decide without remembering.
        if self.entries.len() < RECENT_LIMIT {
            self.entries.insert(key, (now, None));
            self.expiry.push_back((now, key));
        }
        Seen::New
    }

    fn finish(&mut self, key: RequestKey, reply: Option<&Arc<Vec<u8>>>, now: Instant) {
        match reply {
            Some(bytes) => {
                if let Some(entry) = self.entries.get_mut(&key) {
                    *entry = (now, Some(Arc::clone(bytes)));
                    self.expiry.push_back((now, key));
                }
            }
            // Nothing was decided: the client's retry is a new request.
            None => {
                self.entries.remove(&key);
            }
        }
    }
}

/// What [`RadiusService::screen`] let through.
enum Screened<'a> {
    /// Status-Server, answered.
    Status(Vec<u8>),
    Access(Packet<'a>),
}

/// The declared clients, the reply settings and the daemon's state.
pub struct RadiusService {
    clients: Vec<Client>,
    rights_attribute: RightsAttribute,
    state: AppState,
    recent: Mutex<Recent>,
    challenges: Challenges,
}

impl std::fmt::Debug for RadiusService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RadiusService")
            .field("clients", &self.clients)
            .finish_non_exhaustive()
    }
}

impl RadiusService {
    pub fn new(
        clients: Vec<Client>,
        rights_attribute: RightsAttribute,
        state: AppState,
    ) -> RadiusService {
        for client in clients.iter().filter(|c| !c.require_message_authenticator) {
            tracing::warn!(
                client = %client.name,
                network = %client.network,
                "RADIUS client allowed without Message-Authenticator: open to BlastRADIUS (CVE-2024-3596)"
            );
        }
        RadiusService {
            clients,
            rights_attribute,
            state,
            recent: Mutex::new(Recent::default()),
            challenges: Challenges::default(),
        }
    }

    /// The most specific declared network holding `ip`.
    fn client_for(&self, ip: IpAddr) -> Option<&Client> {
        self.clients.get(self.client_index(ip)?)
    }

    /// [`RadiusService::client_for`]'s index in the declared clients.
    fn client_index(&self, ip: IpAddr) -> Option<usize> {
        self.clients
            .iter()
            .enumerate()
            .filter(|(_, c)| c.network.contains(ip))
            .max_by_key(|(_, c)| c.network.prefix())
            .map(|(i, _)| i)
    }

    pub(super) fn count(&self, client: &str, outcome: &'static str) {
        self.state.metrics().radius(client, outcome);
    }

    fn recent(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The reply to one datagram from `peer`, or `None` to drop it
    /// silently (RFC 2865 §3: a packet that fails a check is discarded).
    pub async fn answer(&self, datagram: &[u8], peer: SocketAddr) -> Option<Vec<u8>> {
        let Some(client) = self.client_for(peer.ip()) else {
            self.count("", "unknown_client");
            return None;
        };
        self.answer_client(client, datagram, peer).await
    }

    /// [`RadiusService::answer`] for a client already identified (by its
    /// address over UDP, by its certificate over RadSec).
    pub async fn answer_client(
        &self,
        client: &Client,
        datagram: &[u8],
        peer: SocketAddr,
    ) -> Option<Vec<u8>> {
        match self.screen(client, datagram)? {
            Screened::Status(reply) => Some(reply),
            Screened::Access(packet) => self.answer_access(client, &packet, peer).await,
        }
    }

    /// The checks every datagram passes before it takes any room: a
    /// well-formed request of a kind we answer, with a right
    /// Message-Authenticator (required unless the client is relaxed).
    /// Status-Server is answered here. Nothing is allocated for a datagram
    /// that fails (`None`, counted).
    fn screen<'a>(&self, client: &Client, datagram: &'a [u8]) -> Option<Screened<'a>> {
        let name = client.name.as_str();
        let Ok(packet) = Packet::parse(datagram) else {
            self.count(name, "malformed");
            return None;
        };
        if !matches!(packet.code, Code::AccessRequest | Code::StatusServer) {
            self.count(name, "unexpected_code");
            return None;
        }
        if packet.has_message_authenticator() {
            if !packet.request_authenticated(&client.secret) {
                self.count(name, "bad_authenticator");
                return None;
            }
        } else if client.require_message_authenticator || packet.code == Code::StatusServer {
            // RFC 5997 §3 requires it on Status-Server whatever the client.
            self.count(name, "missing_authenticator");
            return None;
        }
        if packet.code == Code::StatusServer {
            self.count(name, "status");
            return Some(Screened::Status(reply(
                Code::AccessAccept,
                &packet,
                client,
                &[],
            )));
        }
        Some(Screened::Access(packet))
    }

    /// A screened Access-Request: from the retransmission cache, or decided.
    async fn answer_access(
        &self,
        client: &Client,
        packet: &Packet<'_>,
        peer: SocketAddr,
    ) -> Option<Vec<u8>> {
        let name = client.name.as_str();
        let key = (peer, packet.identifier, packet.authenticator);
        let seen = self.recent().begin(key, Instant::now());
        match seen {
            Seen::Answered(bytes) => {
                self.count(name, "retransmission");
                return Some(bytes.to_vec());
            }
            Seen::InFlight => {
                self.count(name, "retransmission");
                return None;
            }
            Seen::New => {}
        }
        let answer = self.access(client, packet).await.map(Arc::new);
        self.recent().finish(key, answer.as_ref(), Instant::now());
        answer.map(|bytes| bytes.to_vec())
    }

    /// An authenticated, new Access-Request: asks the verify service.
    async fn access(&self, client: &Client, packet: &Packet<'_>) -> Option<Vec<u8>> {
        let name = client.name.as_str();
        let login = packet
            .find(attr::USER_NAME)
            .and_then(|l| std::str::from_utf8(l).ok());
        let password = packet.password(&client.secret).ok().flatten();
        let passcode =
            password.and_then(|p| String::from_utf8(p.to_vec()).ok().map(Zeroizing::new));
        let (Some(login), Some(passcode)) = (login, passcode) else {
            // CHAP, EAP or a request without a user: nothing to verify.
            self.count(name, "unsupported");
            return Some(reply(Code::AccessReject, packet, client, &[]));
        };
        let source = packet
            .find(CALLING_STATION_ID)
            .and_then(|s| std::str::from_utf8(s).ok())
            .filter(|s| !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control));
        let attempt = Attempt {
            client: name,
            login,
            password: passcode,
            challenge: packet.find(attr::STATE),
            source,
        };
        match authenticate(&self.state, &self.challenges, attempt).await {
            Ok(Answer::Accept { rights }) => {
                self.count(name, "accept");
                let classes = self.rights_classes(&rights);
                let extra: Vec<(u8, &[u8])> = classes
                    .iter()
                    .map(|c| (attr::CLASS, c.as_bytes()))
                    .collect();
                Some(reply(Code::AccessAccept, packet, client, &extra))
            }
            Ok(Answer::Reject) => {
                self.count(name, "reject");
                Some(reply(Code::AccessReject, packet, client, &[]))
            }
            Ok(Answer::SourceLimited) => {
                self.count(name, "source_limited");
                Some(reply(Code::AccessReject, packet, client, &[]))
            }
            Ok(Answer::Challenge { id, prompt }) => {
                self.count(name, prompt.label());
                let message = prompt.message(client.language);
                let extra = [
                    (attr::STATE, &id[..]),
                    (attr::REPLY_MESSAGE, message.as_bytes()),
                ];
                Some(reply(Code::AccessChallenge, packet, client, &extra))
            }
            // Nothing decided: no answer, the client retries.
            Err(err) => {
                tracing::warn!(client = name, error = %err, "RADIUS: verify undecided, no answer");
                self.count(name, "unavailable");
                None
            }
        }
    }

    fn rights_classes(&self, rights: &[RightInForce]) -> Vec<String> {
        match self.rights_attribute {
            RightsAttribute::None => Vec::new(),
            RightsAttribute::Class => {
                let mut schools: Vec<&str> = rights.iter().map(|r| r.school.as_str()).collect();
                schools.sort_unstable();
                schools.dedup();
                schools.iter().map(|s| format!("UAI={s}")).collect()
            }
        }
    }
}

/// A reply: Message-Authenticator first, then `extra`, then the request's
/// Proxy-State attributes in order (RFC 2865 §5.33). An attribute that
/// does not fit is left out rather than failing the reply.
fn reply(code: Code, request: &Packet<'_>, client: &Client, extra: &[(u8, &[u8])]) -> Vec<u8> {
    let mut builder = Builder::new(code, request.identifier);
    let proxy = request
        .attributes()
        .filter(|a| a.kind == attr::PROXY_STATE)
        .map(|a| (a.kind, a.value));
    for (kind, value) in extra.iter().copied().chain(proxy) {
        let _ = builder.push(kind, value);
    }
    builder.reply(&request.authenticator, &client.secret)
}

/// Serves `service` on every socket until `stop` turns true: one task per
/// socket receives, screens each datagram in place
/// ([`RadiusService::screen`]: an undeclared address, a malformed packet or
/// a wrong Message-Authenticator costs no allocation), admits the rest
/// within [`Admission`]'s bounds (a request that finds no room is dropped
/// and counted, never queued), and carries the admitted ones in the same
/// task until they are answered.
///
/// One task per socket, not one per core: tasks sharing a socket are all
/// woken by each datagram and all but one find nothing to read (0.7 empty
/// `recvfrom` and 0.6 more `epoll_wait` per request, measured with two);
/// and the requests ride in the receiving task rather than one spawned
/// task each, so the verify writer's answers to a whole batch wake one task
/// once (docs/performance.md, "RADIUS: where the time goes").
pub async fn serve(
    sockets: Vec<UdpSocket>,
    service: Arc<RadiusService>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let admission = Admission::new(PENDING, PENDING_PER_SOURCE);
    let loops = sockets.into_iter().map(|socket| {
        receive(
            Arc::new(socket),
            Arc::clone(&service),
            Arc::clone(&admission),
            stop.clone(),
        )
    });
    futures_util::future::join_all(loops).await;
}

/// One socket's receiving task, and the requests it is deciding.
async fn receive(
    socket: Arc<UdpSocket>,
    service: Arc<RadiusService>,
    admission: Arc<Admission>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut buffer = vec![0u8; MAX_PACKET + 1];
    let mut deciding = FuturesUnordered::new();
    loop {
        let received = tokio::select! {
            r = socket.recv_from(&mut buffer) => r,
            Some(()) = deciding.next(), if !deciding.is_empty() => continue,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (len, peer) = match received {
            Ok(got) => got,
            Err(err) => {
                tracing::warn!(error = %err, "RADIUS receive failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let datagram = buffer.get(..len).unwrap_or_default();
        let Some(index) = service.client_index(peer.ip()) else {
            service.count("", "unknown_client");
            continue;
        };
        let Some(client) = service.clients.get(index) else {
            continue;
        };
        match service.screen(client, datagram) {
            Some(Screened::Status(bytes)) => {
                send(&socket, &bytes, peer).await;
                continue;
            }
            Some(Screened::Access(_)) => {}
            None => continue,
        }
        let ticket = match admission.admit(peer.ip()) {
            Ok(ticket) => ticket,
            Err(refused) => {
                service.count(&client.name, refused.label());
                continue;
            }
        };
        deciding.push(decide(
            Arc::clone(&service),
            Arc::clone(&socket),
            index,
            datagram.to_vec(),
            peer,
            ticket,
        ));
    }
    // Stopping: the requests already admitted still get their answer.
    if !deciding.is_empty() {
        tokio::spawn(async move { while deciding.next().await.is_some() {} });
    }
}

/// An admitted Access-Request, decided and answered; its admission slot is
/// given back when done.
async fn decide(
    service: Arc<RadiusService>,
    socket: Arc<UdpSocket>,
    index: usize,
    datagram: Vec<u8>,
    peer: SocketAddr,
    ticket: super::admission::Ticket,
) {
    // Screened before admission: it parses again.
    if let (Some(client), Ok(packet)) = (service.clients.get(index), Packet::parse(&datagram)) {
        if let Some(bytes) = service.answer_access(client, &packet, peer).await {
            send(&socket, &bytes, peer).await;
        }
    }
    drop(ticket);
}

async fn send(socket: &UdpSocket, bytes: &[u8], peer: SocketAddr) {
    if let Err(err) = socket.send_to(bytes, peer).await {
        tracing::warn!(error = %err, %peer, "RADIUS send failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u8) -> RequestKey {
        ("127.0.0.1:5000".parse().unwrap(), id, [id; 16])
    }

    #[test]
    fn retransmissions_get_the_cached_reply_for_a_few_seconds() {
        let mut recent = Recent::default();
        let t0 = Instant::now();
        assert!(matches!(recent.begin(key(1), t0), Seen::New));
        assert!(matches!(recent.begin(key(1), t0), Seen::InFlight));
        let bytes = Arc::new(vec![2, 1]);
        recent.finish(key(1), Some(&bytes), t0);
        match recent.begin(key(1), t0 + Duration::from_secs(1)) {
            Seen::Answered(b) => assert_eq!(*b, vec![2, 1]),
            _ => panic!("cached"),
        }
        // Another identifier is another request.
        assert!(matches!(recent.begin(key(2), t0), Seen::New));
        // After the window, the same bytes are a new request (a replay the
        // verify service rejects).
        assert!(matches!(
            recent.begin(key(1), t0 + RETRANSMIT_WINDOW),
            Seen::New
        ));
    }

    #[test]
    fn expired_requests_leave_as_new_ones_arrive() {
        let mut recent = Recent::default();
        let t0 = Instant::now();
        let bytes = Arc::new(vec![2]);
        for id in 0..200 {
            assert!(matches!(recent.begin(key(id), t0), Seen::New));
            recent.finish(key(id), Some(&bytes), t0 + Duration::from_millis(10));
        }
        assert_eq!(recent.entries.len(), 200);
        // One more, a window later: the 200 are gone, without a sweep.
        let later = t0 + Duration::from_millis(10) + RETRANSMIT_WINDOW;
        assert!(matches!(recent.begin(key(250), later), Seen::New));
        assert_eq!(recent.entries.len(), 1);
        assert_eq!(recent.expiry.len(), 1);
    }

    #[test]
    fn an_undecided_request_is_forgotten() {
        let mut recent = Recent::default();
        let t0 = Instant::now();
        assert!(matches!(recent.begin(key(3), t0), Seen::New));
        recent.finish(key(3), None, t0);
        assert!(matches!(recent.begin(key(3), t0), Seen::New));
    }
}
