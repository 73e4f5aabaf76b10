//! PyPI's `grpcio` as a peer (`tests/peers/grpc_client.py`, in the virtualenv `./lab setup` makes): a native gRPC
//! client over HTTP/2 cleartext that no one here wrote.

use std::process::Stdio;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

/// Runs the Python peer with `args` (the server's address first) and answers its JSON lines.
pub async fn grpcio(server: std::net::SocketAddr, args: &[&str]) -> Vec<serde_json::Value> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = manifest.join("../.venv/bin/python");
    assert!(python.exists(), "{} is missing: run ./lab setup", python.display());
    let address = server.to_string();
    let (command, rest) = args.split_first().unwrap();
    let run = tokio::process::Command::new(python)
        .arg(manifest.join("tests/peers/grpc_client.py"))
        .arg(command)
        .arg(&address)
        .args(rest)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PATIENCE, run).await.expect("grpcio in time").unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "grpc_client.py {args:?} failed: {stderr}");
    String::from_utf8(output.stdout).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}
