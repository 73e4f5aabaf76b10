//! Debian's Mosquitto, started by a test on free ports: the reference broker the lab's is compared with, and the
//! peer the load tool measures beside it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A program on PATH, or in /usr/sbin (where Debian puts `mosquitto`, not on every user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([Path::new("/usr/sbin").join(name), Path::new("/usr/bin").join(name)])
        .find(|candidate| candidate.is_file())
}

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Mosquitto as the scale suite starts it (`bench/suite.sh`): a TCP and a WebSocket listener (which answers on any
/// path), anonymous, nothing persisted, no connection cap, in a directory of its own. Killed, and its directory
/// removed, on drop.
pub struct Mosquitto {
    child: Child,
    dir: PathBuf,
    pub tcp: SocketAddr,
    pub ws: SocketAddr,
}

impl Mosquitto {
    pub fn start(binary: &Path) -> Self {
        let mut last_log = String::new();
        // A port found free by binding port 0 may be taken before Mosquitto binds it: try again on new ones.
        for attempt in 0..3 {
            let (tcp, ws) = (free_address(), free_address());
            let dir =
                std::env::temp_dir().join(format!("lab-mosquitto-{}-{}-{attempt}", std::process::id(), tcp.port()));
            std::fs::create_dir_all(&dir).unwrap();
            let config = dir.join("mosquitto.conf");
            std::fs::write(
                &config,
                format!(
                    "listener {} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_connections -1\n\
                     log_dest stderr\nlistener {} 127.0.0.1\nprotocol websockets\n",
                    tcp.port(),
                    ws.port()
                ),
            )
            .unwrap();
            let log_path = dir.join("mosquitto.log");
            let log = std::fs::File::create(&log_path).unwrap();
            let child = Command::new(binary)
                .arg("-c")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap_or_else(|error| panic!("starting {}: {error}", binary.display()));
            let mut mosquitto = Self { child, dir, tcp, ws };
            if mosquitto.wait_until_listening() {
                return mosquitto;
            }
            last_log = std::fs::read_to_string(&log_path).unwrap_or_default();
        }
        panic!("Mosquitto did not start listening; its log:\n{last_log}");
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn wait_until_listening(&mut self) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if TcpStream::connect(self.tcp).is_ok() && TcpStream::connect(self.ws).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
