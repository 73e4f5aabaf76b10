//! `transport-floor`: the least a server can do for the scale suite's job on this machine, so every other server's
//! figures can be read as a ratio to it. It serves the lab's event API (`/api/generator`, `/api/poll`,
//! `/api/long-poll`, `/api/sse`, `/api/stream`, `/api/ws`, `/api/time`) with the lab's exact bytes, from one
//! thread and one epoll set, writing each event once per socket and doing nothing else: no wire records, no
//! limits, no pages, no keep-alives, no pings.
//!
//!   transport-floor --addr 127.0.0.1:3240 [--paused] [--rate 1] [--payload-bytes 0] [--history 10000]

mod connection;
mod http;
mod log;
mod server;
mod web_socket;

use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use protocol::{GeneratorSettings, GeneratorUpdate};

#[derive(Parser)]
#[command(name = "transport-floor", about = "The scale suite's floor: the lab's events, one write per socket")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:3240")]
    addr: SocketAddr,
    #[arg(long)]
    paused: bool,
    #[arg(long, default_value_t = 1.0)]
    rate: f64,
    #[arg(long, default_value_t = 0)]
    payload_bytes: usize,
    /// Events kept for polls and resumes (the lab keeps 10,000).
    #[arg(long, default_value_t = 10_000)]
    history: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let knobs = GeneratorUpdate {
        rate_per_second: Some(args.rate),
        payload_bytes: Some(args.payload_bytes),
        paused: Some(args.paused),
    };
    let settings = match GeneratorSettings::default().updated(knobs) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("transport-floor: {error}");
            return ExitCode::from(2);
        }
    };
    let result = server::Server::bind(args.addr, log::Log::new(settings, args.history.max(1))).and_then(|server| {
        println!("transport-floor ready pid={} url=http://{}", std::process::id(), server.local_addr()?);
        server.run()
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("transport-floor: {error}");
            ExitCode::FAILURE
        }
    }
}
