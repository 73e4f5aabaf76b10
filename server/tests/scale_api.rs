//! `GET /api/scale` serves the scale suite's report from disk, and says clearly when there is none or it is broken.

use crate::common;

use common::TestServer;
use protocol::{ApiErrorBody, LoadTransport, ScaleReport, ScaleRun, ScaleServer};

fn results_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("transport-lab-scale-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("results.json")
}

async fn get(server: &TestServer) -> (u16, String) {
    let response = server.http.get(server.url("/api/scale")).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test]
async fn serves_the_latest_report_and_rereads_it_after_a_new_run() {
    let path = results_path("latest");
    let mut report = ScaleReport {
        command: "./lab bench".into(),
        runs: vec![ScaleRun {
            server: ScaleServer::Lab,
            transport: LoadTransport::WebSocket,
            clients: 1000,
            ..Default::default()
        }],
        ..Default::default()
    };
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let server = TestServer::start_with(&["--scale-results", path.to_str().unwrap()]).await;
    let (status, body) = get(&server).await;
    assert_eq!(status, 200);
    assert_eq!(serde_json::from_str::<ScaleReport>(&body).unwrap(), report);

    report.runs[0].clients = 10_000;
    std::fs::write(&path, serde_json::to_vec(&report).unwrap()).unwrap();
    let (_, body) = get(&server).await;
    assert_eq!(serde_json::from_str::<ScaleReport>(&body).unwrap().runs[0].clients, 10_000);
}

#[tokio::test]
async fn missing_report_is_a_404_that_says_how_to_make_one() {
    let path = results_path("missing").with_file_name("never-written.json");
    let server = TestServer::start_with(&["--scale-results", path.to_str().unwrap()]).await;
    let (status, body) = get(&server).await;
    assert_eq!(status, 404);
    let error: ApiErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(error.error, "no_scale_results");
    assert!(error.message.contains("./lab bench"), "{}", error.message);
}

#[tokio::test]
async fn broken_report_is_named_not_passed_through() {
    let path = results_path("broken");
    std::fs::write(&path, b"{\"runs\": [").unwrap();
    let server = TestServer::start_with(&["--scale-results", path.to_str().unwrap()]).await;
    let (status, body) = get(&server).await;
    assert_eq!(status, 500);
    let error: ApiErrorBody = serde_json::from_str(&body).unwrap();
    assert_eq!(error.error, "scale_results_unreadable");
}
