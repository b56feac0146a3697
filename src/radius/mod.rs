//! RADIUS for gateways (docs/radius.md): the sans-io packet codec
//! ([`packet`]: parsing, authenticators, hidden passwords; pure), the
//! `[radius]` configuration and declared clients ([`config`]), and the UDP
//! service that hands Access-Requests to the verify service ([`server`]),
//! and RadSec, the same over mutual TLS ([`radsec`]).

pub mod admission;
pub mod config;
pub mod packet;
pub mod radsec;
pub mod server;

pub use config::{Client, RadiusConfig, RightsAttribute};
pub use packet::{fuzz_one, Builder, Code, Packet, PacketError};
pub use server::{serve, RadiusService};
