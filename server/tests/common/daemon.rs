//! Real servers nobody here wrote (Mosquitto, nats-server, redis-server, HAProxy, and the lab's own binary), each
//! started by a test as a plain process on free ports in a directory of its own, and killed on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A program on PATH, or in /usr/sbin (where Debian puts `mosquitto`, `nats-server` and `haproxy`, not on every
/// user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).map(|dir| dir.join(name)).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([Path::new("/usr/sbin").join(name), Path::new("/usr/bin").join(name)])
        .find(|candidate| candidate.is_file())
}

/// `name`, or a panic saying how to get it: `./lab setup` installs every one of them.
pub fn require_program(name: &str) -> PathBuf {
    find_program(name).unwrap_or_else(|| panic!("`{name}` is not installed; `./lab setup` installs it"))
}

pub fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// How to start one daemon: its program, and its arguments given the ports it was handed and its directory.
pub struct Recipe<'a> {
    pub program: PathBuf,
    /// Ports to find free and wait for: the daemon is up once each accepts a connection.
    pub ports: usize,
    pub args: &'a dyn Fn(&[SocketAddr], &Path) -> Vec<String>,
    pub env: Vec<(String, String)>,
}

pub struct Daemon {
    child: Child,
    pub dir: PathBuf,
    pub addrs: Vec<SocketAddr>,
    log_path: PathBuf,
    /// Removed on drop only when the daemon made it (a restart reuses its predecessor's).
    owns_dir: bool,
}

impl Daemon {
    pub fn start(recipe: &Recipe) -> Self {
        let mut last_log = String::new();
        // A port found free by binding port 0 may be taken before the daemon binds it: try again on new ones.
        for attempt in 0..3 {
            let addrs: Vec<SocketAddr> = (0..recipe.ports).map(|_| free_address()).collect();
            let name = recipe.program.file_name().unwrap().to_string_lossy().into_owned();
            let dir =
                std::env::temp_dir().join(format!("lab-{name}-{}-{}-{attempt}", std::process::id(), addrs[0].port()));
            std::fs::create_dir_all(&dir).unwrap();
            match Self::spawn(recipe, addrs, dir.clone(), true) {
                Ok(daemon) => return daemon,
                Err(log) => last_log = log,
            }
        }
        panic!("{} did not start listening; its log:\n{last_log}", recipe.program.display());
    }

    /// Starts `recipe` again on the same ports and directory, as an engine that comes back after a crash.
    pub fn restart(mut self, recipe: &Recipe) -> Self {
        self.kill();
        self.owns_dir = false;
        let (addrs, dir) = (self.addrs.clone(), self.dir.clone());
        drop(self);
        // The old process's ports may linger a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match Self::spawn(recipe, addrs.clone(), dir.clone(), true) {
                Ok(daemon) => return daemon,
                Err(log) if Instant::now() > deadline => panic!("could not restart; its log:\n{log}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    fn spawn(recipe: &Recipe, addrs: Vec<SocketAddr>, dir: PathBuf, owns_dir: bool) -> Result<Self, String> {
        let log_path = dir.join("daemon.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(&recipe.program)
            .args((recipe.args)(&addrs, &dir))
            .envs(recipe.env.iter().map(|(key, value)| (key, value)))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|error| panic!("starting {}: {error}", recipe.program.display()));
        let mut daemon = Self { child, dir, addrs, log_path, owns_dir };
        if daemon.wait_until_listening() {
            Ok(daemon)
        } else {
            daemon.kill();
            Err(daemon.log())
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// SIGSTOP (or SIGCONT): a process that hangs with its sockets open, so its peers' requests go unanswered
    /// rather than refused.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.pid().to_string()]).status().unwrap();
        assert!(status.success(), "kill {signal} {}", self.pid());
        // A signal is delivered when the kernel next runs the process: wait until it is (or is no longer) stopped.
        let stopped = signal == "-STOP";
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.is_stopped() != stopped {
            assert!(Instant::now() < deadline, "{} never took {signal}", self.pid());
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Every thread of the process stopped (`T` in `/proc/<pid>/task/*/stat`): a Go program has several.
    fn is_stopped(&self) -> bool {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid())) else { return false };
        tasks.flatten().all(|task| {
            let stat = std::fs::read_to_string(task.path().join("stat")).unwrap_or_default();
            // The state follows the parenthesised command name, which may itself contain spaces or parentheses.
            stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('T'))
        })
    }

    /// SIGKILL, as a crash: no goodbyes to anyone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn wait_until_listening(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if self.addrs.iter().all(|addr| TcpStream::connect(addr).is_ok()) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
