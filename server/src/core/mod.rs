//! The lab itself, with no HTTP in it: the event hub and what feeds it (the generator, people's messages, tones),
//! the fault switches, who is connected, the counters, and the lessons and scale results read from disk.
//!
//! Nothing here knows axum, the app's state or its HTTP errors: what the lab refuses is a [`refusal::Refusal`],
//! which `api` turns into a status code and a JSON body. So each piece can be tested, benchmarked and reused (the
//! transports, the load tool's in-process lab) without a router around it.

pub mod audio;
pub mod class_faults;
pub mod clock;
pub mod cluster;
pub mod fanout;
pub mod faults;
pub mod feed;
pub mod generator;
pub mod hub;
pub mod hub_event;
pub mod join_link;
pub mod leadership;
pub mod lessons;
pub mod log;
pub mod message;
pub mod peer;
pub mod prefetch;
pub mod presence;
pub mod refusal;
pub mod replica;
pub mod scale_results;
pub mod stats;
