//! Short polling: `GET /api/poll?after=N` every interval on the client's own keep-alive connection.

use protocol::routes::PollQuery;
use protocol::PollResponse;
use tokio::time::{interval_at, Instant, MissedTickBehavior};

use super::{Client, SessionEnd};
use crate::error::LoadError;
use crate::http::{ok_body, HttpClient};

pub async fn session(client: &mut Client) -> Result<SessionEnd, LoadError> {
    let mut http = HttpClient::connect(client.target(), client.recorder.clone()).await?;
    let first_session = !client.ever_connected();
    // One poll at once proves the connection works before the client counts as connected.
    poll(&mut http, client).await?;
    let interval = client.plan.poll_interval;
    // A thousand clients started together would all ask in the same millisecond forever after; browsers opened
    // by people do not. A random phase per client spreads the requests over the interval.
    let phase = if first_session { interval.mul_f64(rand::random_range(0.0..1.0)) } else { interval };
    let mut ticks = interval_at(Instant::now() + phase, interval);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        // A browser quietly opens a new connection when the server has closed an idle one; so does this client.
        if http.is_closed() {
            http = HttpClient::connect(client.target(), client.recorder.clone()).await?;
        }
        poll(&mut http, client).await?;
    }
}

async fn poll(http: &mut HttpClient, client: &mut Client) -> Result<(), LoadError> {
    let path = PollQuery { after: client.poll_after(), ..PollQuery::default() }.url();
    let body = ok_body(http.get(&path).await?, &path).await?;
    let answer: PollResponse = serde_json::from_slice(&body)?;
    // An answer from a new server run is not counted; the next poll, at its time, asks for that run from #1.
    client.answer(&answer);
    Ok(())
}
