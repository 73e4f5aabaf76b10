//! Server-Sent Events: one `GET /api/sse` held open, parsed by `eventsource-stream` as it arrives.

use eventsource_stream::Eventsource;
use futures::StreamExt;
use http_body_util::BodyExt;
use hyper::StatusCode;
use protocol::routes::StreamQuery;
use protocol::session::RunCheck;
use protocol::{Event, Gap, StreamHello, WireLabel};

use super::{Client, SessionEnd};
use crate::error::LoadError;
use crate::http::{expect_status, HttpClient};

pub async fn session(client: &mut Client) -> Result<SessionEnd, LoadError> {
    let mut http = HttpClient::connect(client.target(), client.recorder.clone()).await?;
    // The first stream starts live; a reconnect resumes after the last event received, as `Last-Event-ID` would.
    let path = StreamQuery { after: client.stream_after(), client: None }.sse_url();
    let response = http.get_stream(&path, "text/event-stream").await?;
    expect_status(&response, &path, StatusCode::OK)?;
    let mut events = response.into_body().into_data_stream().eventsource();
    while let Some(item) = events.next().await {
        let item = item.map_err(|error| LoadError::Protocol(format!("SSE stream: {error}")))?;
        match item.event.as_str() {
            name if name == WireLabel::Hello.as_str() => {
                let hello = serde_json::from_str::<StreamHello>(&item.data)?;
                if client.hello(&hello) == RunCheck::Restarted {
                    return Ok(SessionEnd::Restarted);
                }
            }
            name if name == WireLabel::Gap.as_str() => client.gap(serde_json::from_str::<Gap>(&item.data)?),
            // Every other named event is one of the log's kinds (`tick`, `message`, ...).
            _ if !item.data.is_empty() => client.event(&serde_json::from_str::<Event>(&item.data)?),
            _ => {}
        }
    }
    Err(LoadError::Closed)
}
