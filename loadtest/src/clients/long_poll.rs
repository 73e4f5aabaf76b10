//! Long polling: `GET /api/long-poll?after=N&timeout=S` again as soon as the previous one is answered.

use hyper::StatusCode;
use protocol::routes::LongPollQuery;
use protocol::PollResponse;

use super::{Client, SessionEnd};
use crate::error::LoadError;
use crate::http::{ok_body, HttpClient};

pub async fn session(client: &mut Client) -> Result<SessionEnd, LoadError> {
    let mut http = HttpClient::connect(client.target(), client.recorder.clone()).await?;
    // A held request gives no sign that the server holds it, so an open connection is what "connected" means
    // here; a refusal (429, 503) still shows up as this session's error.
    client.mark_connected();
    loop {
        let query = LongPollQuery {
            after: client.poll_after(),
            timeout: Some(client.plan.long_poll_timeout_seconds),
            client: None,
        };
        let path = query.url();
        let response = http.get(&path).await?;
        let timed_out = response.status() == StatusCode::NO_CONTENT;
        let body = ok_body(response, &path).await?;
        if timed_out {
            client.answered();
        } else {
            // An answer from a new server run is not counted; the next request, at once, asks for it from #1.
            client.answer(&serde_json::from_slice::<PollResponse>(&body)?);
        }
    }
}
