//! What a follower yields to the server's replica, and how it reports the engine's outages: each once.

use protocol::{Epoch, Event};
use tokio::sync::mpsc;

/// What following the log yields, in order.
#[derive(Debug)]
pub enum Followed {
    /// The next event of run `epoch`. A new epoch means the log was recreated: a new run, numbered from its start.
    Event { epoch: Epoch, event: Event },
    /// The engine cannot be reached; the follower keeps trying and resumes where it was.
    Lost { reason: String },
    /// Reached again after [`Followed::Lost`].
    Restored,
}

/// What a follower has told its replica of the engine's health: each outage once, and its end.
#[derive(Default)]
pub(crate) struct Outage {
    reported: bool,
}

/// The replica stopped listening: the follower has nobody to follow for.
pub(crate) struct ReplicaGone;

impl Outage {
    /// Reports the engine lost, unless this outage was already reported.
    pub(crate) async fn begin(&mut self, out: &mpsc::Sender<Followed>, reason: String) -> Result<(), ReplicaGone> {
        if std::mem::replace(&mut self.reported, true) {
            return Ok(());
        }
        out.send(Followed::Lost { reason }).await.map_err(|_| ReplicaGone)
    }

    /// Reports the engine back, if an outage was reported.
    pub(crate) async fn end(&mut self, out: &mpsc::Sender<Followed>) -> Result<(), ReplicaGone> {
        if !std::mem::take(&mut self.reported) {
            return Ok(());
        }
        out.send(Followed::Restored).await.map_err(|_| ReplicaGone)
    }
}
