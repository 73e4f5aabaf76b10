//! The lab's MQTT broker, sans-IO: the server hands it the bytes a socket read and the time, and takes back the
//! bytes to write, the sockets to close and the messages the lab itself must act on. No sockets, no runtime, no
//! clock of its own, so every state machine here (QoS 1 and 2 both ways, sessions, wills, keep-alive) is tested
//! with tables and fuzzed with raw bytes.
//!
//! Layout: `config` (limits), `broker` (the one `Broker` value and its API), `connect` (CONNECT and sessions
//! starting), `inbound` (the other client packets), `outbound` (routing and delivery), `lifecycle` (connections
//! and sessions ending, wills), `session` (what outlives a connection), `connection` (per-socket state),
//! `framing` and `decode` (bytes to packets), `wire` (packets to bytes), `topics` (subscriptions and retained
//! messages), `timers`, `output` (what the I/O layer acts on).

mod broker;
mod config;
mod connect;
mod connection;
mod decode;
mod error;
mod ids;
mod inbound;
mod lab;
mod lifecycle;
mod message;
mod outbound;
mod output;
mod session;
mod timers;
mod topics;
mod wire;

#[cfg(test)]
mod tests;

pub use broker::{Broker, BrokerStats};
pub use config::BrokerConfig;
pub use output::{ConnectionId, LabPublish, LabRefusal, LabTicket, Output, PacketSummary, Publication};
