//! The load tool behind `./lab bench`: N clients of one transport against one server (the lab or a peer),
//! measured at the clients' sockets and in the server's /proc entries. `main.rs` only parses the command line;
//! everything is here so tests can run it against a lab started in-process.

pub mod cli;
mod clients;
mod counting;
pub mod engine_io;
pub mod error;
mod http;
pub mod proc;
mod publisher;
pub mod report;
pub mod run;
mod stats;

pub use error::LoadError;
pub use run::{run, MqttOptions, RunOptions, RunOutcome};
