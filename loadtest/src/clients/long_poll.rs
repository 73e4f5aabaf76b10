//! Long polling: `GET /api/long-poll?after=N&timeout=S` again as soon as the previous one is answered.

use protocol::PollResponse;
use hyper::StatusCode;

use super::{Client, Never};
use crate::error::LoadError;
use crate::http::{ok_body, HttpClient};

pub async fn session(client: &mut Client) -> Result<Never, LoadError> {
    let mut http = HttpClient::connect(&client.plan.target, client.recorder.clone()).await?;
    // A held request gives no sign that the server holds it, so an open connection is what "connected" means
    // here; a refusal (429, 503) still shows up as this session's error.
    client.mark_connected();
    loop {
        let path =
            format!("/api/long-poll?after={}&timeout={}", client.cursor(), client.plan.long_poll_timeout_seconds);
        let response = http.get(&path).await?;
        let timed_out = response.status() == StatusCode::NO_CONTENT;
        let body = ok_body(response, &path).await?;
        if !timed_out {
            let answer: PollResponse = serde_json::from_slice(&body)?;
            client.answer(&answer);
        }
    }
}
