//! HTTP streaming: one `GET /api/stream` held open, its body split into lines by the protocol's `LineSplitter`
//! however the chunks fall, each line a `StreamLine`.

use http_body_util::BodyExt;
use hyper::StatusCode;
use protocol::ndjson::{self, LineSplitter, StreamLine};
use protocol::routes::StreamQuery;
use protocol::session::RunCheck;

use super::{Client, SessionEnd};
use crate::error::LoadError;
use crate::http::{expect_status, HttpClient};

pub async fn session(client: &mut Client) -> Result<SessionEnd, LoadError> {
    let mut http = HttpClient::connect(client.target(), client.recorder.clone()).await?;
    // Nothing reconnects for this client but [`super::drive`]: the first stream starts live, a reconnect resumes
    // after the last event received.
    let path = StreamQuery { after: client.stream_after(), client: None }.http_stream_url();
    let response = http.get_stream(&path, ndjson::CONTENT_TYPE).await?;
    expect_status(&response, &path, StatusCode::OK)?;
    let mut body = response.into_body();
    let mut splitter = LineSplitter::default();
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame?.into_data() else { continue };
        for line in splitter.push(&chunk) {
            let line = line.map_err(|error| LoadError::Protocol(format!("NDJSON stream: {error}")))?;
            match StreamLine::decode(&line)? {
                StreamLine::Hello(hello) => {
                    if client.hello(&hello) == RunCheck::Restarted {
                        return Ok(SessionEnd::Restarted);
                    }
                }
                StreamLine::Event(event) => client.event(&event),
                StreamLine::Gap(gap) => client.gap(gap),
                StreamLine::KeepAlive => {}
            }
        }
    }
    Err(LoadError::Closed)
}
