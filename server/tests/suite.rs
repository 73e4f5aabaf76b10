//! The server's tests against real sockets, as one test binary: a binary per file would compile `common` and link
//! the whole server once per file, which cost a fresh clone minutes. Each module is one file beside this one; run
//! one with `cargo test -p server --test suite <module>::`. The tests that measure rates over seconds are in
//! `load.rs`.

mod common;

mod audio;
mod backplane;
mod class;
mod cluster;
mod faults;
mod grpc;
mod hardening;
mod http_api;
mod http_stream;
mod lessons;
mod mqtt;
mod mqtt_peers;
mod scale_api;
mod streams;
mod theme;
mod two_way;
mod webhooks;
mod wire;
mod wire_capture;
mod wire_pcapng;
