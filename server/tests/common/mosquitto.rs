//! Debian's Mosquitto, started by a test on free ports: the reference broker the lab's is compared with, and the
//! peer the load tool measures beside it.

use std::net::SocketAddr;
use std::path::Path;

#[allow(unused_imports)]
pub use super::daemon::find_program;
use super::daemon::{Daemon, Recipe};

/// Mosquitto as the scale suite starts it (`bench/suite.sh`): a TCP and a WebSocket listener (which answers on any
/// path), anonymous, nothing persisted, no connection cap.
pub struct Mosquitto {
    daemon: Daemon,
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
}

impl Mosquitto {
    pub fn start(binary: &Path) -> Self {
        let args = |addrs: &[SocketAddr], dir: &Path| {
            let config = dir.join("mosquitto.conf");
            std::fs::write(
                &config,
                format!(
                    "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n\
                     log_dest stderr\nlistener {} 127.0.0.1\nprotocol websockets\n",
                    addrs[0].port(),
                    addrs[1].port()
                ),
            )
            .unwrap();
            vec!["-c".to_owned(), config.display().to_string()]
        };
        let daemon = Daemon::start(&Recipe { program: binary.to_owned(), ports: 2, args: &args, env: vec![] });
        let (tcp, ws) = (daemon.addrs[0], daemon.addrs[1]);
        Self { daemon, tcp, ws }
    }

    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }
}
