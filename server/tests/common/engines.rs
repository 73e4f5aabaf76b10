//! The engines a lab of several instances shares its log on, the load balancer in front of them, and the lab's own
//! binary as one of those instances: each a real process on free ports (see [`super::daemon`]).

use std::net::SocketAddr;
use std::path::Path;

use super::daemon::{require_program, Daemon, Recipe};

/// Which engine a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineKind {
    Nats,
    Redis,
}

/// nats-server with JetStream, or redis-server, as `./lab cluster` starts them.
pub struct Engine {
    pub kind: EngineKind,
    daemon: Option<Daemon>,
}

impl Engine {
    pub fn start(kind: EngineKind) -> Self {
        Self { kind, daemon: Some(Daemon::start(&recipe(kind))) }
    }

    /// `--backplane`'s value.
    pub fn url(&self) -> String {
        let addr = self.daemon.as_ref().expect("running").addr();
        match self.kind {
            EngineKind::Nats => format!("nats://{addr}"),
            EngineKind::Redis => format!("redis://{addr}"),
        }
    }

    /// Killed (SIGKILL) and started again on the same port and data directory. NATS keeps its file store and so
    /// the run; this Redis keeps nothing (`--save ""`), so the log starts a new run.
    pub fn crash_and_restart(&mut self) {
        let daemon = self.daemon.take().expect("running");
        self.daemon = Some(daemon.restart(&recipe(self.kind)));
    }

    /// Killed (SIGKILL) and not started again until [`Engine::restart_after_kill`].
    pub fn kill(&mut self) {
        self.daemon.as_mut().expect("running").kill();
    }

    /// Stopped (SIGSTOP) with its connections open: what is sent to it now is answered only after [`Engine::thaw`].
    pub fn freeze(&self) {
        self.daemon.as_ref().expect("running").signal("-STOP");
    }

    pub fn thaw(&self) {
        self.daemon.as_ref().expect("running").signal("-CONT");
    }

    pub fn restart_after_kill(&mut self) {
        self.crash_and_restart();
    }
}

fn recipe(kind: EngineKind) -> Recipe<'static> {
    match kind {
        EngineKind::Nats => Recipe { program: require_program("nats-server"), ports: 1, args: &nats_args, env: vec![] },
        EngineKind::Redis => {
            Recipe { program: require_program("redis-server"), ports: 1, args: &redis_args, env: vec![] }
        }
    }
}

fn nats_args(addrs: &[SocketAddr], dir: &Path) -> Vec<String> {
    let store = dir.join("jetstream").display().to_string();
    let port = addrs[0].port().to_string();
    ["-js", "-sd", &store, "-a", "127.0.0.1", "-p", &port].map(str::to_owned).to_vec()
}

fn redis_args(addrs: &[SocketAddr], dir: &Path) -> Vec<String> {
    let (port, dir) = (addrs[0].port().to_string(), dir.display().to_string());
    ["--port", &port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", &dir]
        .map(str::to_owned)
        .to_vec()
}

/// One lab instance: the server binary on a free port, sharing the log at `backplane`.
pub struct LabInstance {
    pub name: String,
    daemon: Daemon,
}

/// The teacher key every test instance is started with.
pub const TEACHER_KEY: &str = "test-teacher-key-0123456789";

/// An HTTP client that acts as the teacher of the instances started here.
pub fn as_teacher() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(protocol::headers::TEACHER_KEY, reqwest::header::HeaderValue::from_static(TEACHER_KEY));
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

impl LabInstance {
    pub fn start(name: &str, backplane: &str, extra: &[&str]) -> Self {
        let name_owned = name.to_owned();
        let backplane = backplane.to_owned();
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        let args = move |addrs: &[SocketAddr], _: &Path| {
            let mut args = vec![
                "--addr".to_owned(),
                addrs[0].to_string(),
                "--backplane".to_owned(),
                backplane.clone(),
                "--instance".to_owned(),
                name_owned.clone(),
                // Every test client comes from 127.0.0.1, through HAProxy or not.
                "--max-requests-per-second".to_owned(),
                "0".to_owned(),
                "--max-connections-per-address".to_owned(),
                "10000".to_owned(),
                // Several instances need the teacher's key, and one key: the tests act as the teacher with it.
                "--teacher-key".to_owned(),
                TEACHER_KEY.to_owned(),
            ];
            args.extend(extra.iter().cloned());
            args
        };
        let recipe = Recipe {
            program: env!("CARGO_BIN_EXE_server").into(),
            ports: 1,
            args: &args,
            env: vec![("RUST_LOG".into(), "info".into()), ("NO_COLOR".into(), "1".into())],
        };
        Self { name: name.to_owned(), daemon: Daemon::start(&recipe) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// SIGKILL, as a crash: its clients' connections just end.
    pub fn kill(&mut self) {
        self.daemon.kill();
    }

    pub fn log(&self) -> String {
        self.daemon.log()
    }
}

/// HAProxy round-robin in front of `backends`, as `./lab cluster` runs it: each request to whichever instance is
/// next, an instance that fails its health check (every 200 ms) taken out, a connection it refuses sent to another.
pub struct Balancer {
    daemon: Daemon,
}

impl Balancer {
    pub fn start(backends: &[SocketAddr]) -> Self {
        let backends = backends.to_vec();
        let args = move |addrs: &[SocketAddr], dir: &Path| {
            let config = dir.join("haproxy.cfg");
            std::fs::write(&config, haproxy_config(addrs[0], &backends)).unwrap();
            vec!["-f".to_owned(), config.display().to_string(), "-db".to_owned()]
        };
        let recipe = Recipe { program: require_program("haproxy"), ports: 1, args: &args, env: vec![] };
        Self { daemon: Daemon::start(&recipe) }
    }

    pub fn addr(&self) -> SocketAddr {
        self.daemon.addr()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }
}

/// What `./lab cluster` writes too: round robin per request, health checks, and a refused connection retried on
/// another instance. Native gRPC (HTTP/2, which HAProxy recognises by its preface) goes on to the instances as
/// HTTP/2 too (`proto h2`), since the lab refuses `application/grpc` over HTTP/1.1; gRPC-web stays HTTP/1.1.
/// `http-no-delay`: without it HAProxy holds small writes back to merge them, which costs a stream's events up to
/// 200 ms each (measured here: SSE p50 113 ms through HAProxy, 7 ms with it).
pub fn haproxy_config(listen: SocketAddr, backends: &[SocketAddr]) -> String {
    let servers = |extra: &str| -> String {
        backends
            .iter()
            .enumerate()
            .map(|(index, addr)| format!("    server lab{} {addr} check inter 200 fall 2 rise 1{extra}\n", index + 1))
            .collect()
    };
    format!(
        "global\n    maxconn 2000\n\
         defaults\n    mode http\n    timeout connect 1s\n    timeout client 1h\n    timeout server 1h\n    \
         timeout tunnel 1h\n    timeout http-request 10s\n    option redispatch\n    retries 3\n    \
         option http-no-delay\n\
         frontend lab\n    bind {listen}\n    \
         use_backend grpc if {{ req.hdr(content-type) -m beg application/grpc }} !{{ req.hdr(content-type) -m beg application/grpc-web }}\n    \
         default_backend instances\n\
         backend instances\n    balance roundrobin\n    option httpchk GET /api/time\n{}\
         backend grpc\n    balance roundrobin\n    option httpchk GET /api/time\n{}",
        servers(""),
        servers(" proto h2")
    )
}
