//! Whose a connection or request is: what fault targets and the classroom's presence count are matched against.

use protocol::{ClientId, FaultTarget, Transport};

#[derive(Clone, Debug)]
pub struct Peer {
    pub transport: Transport,
    /// The page's id, when the request named one (`client=`); tools and old pages do not.
    pub client: Option<ClientId>,
}

impl Peer {
    pub fn new(transport: Transport, client: Option<ClientId>) -> Self {
        Self { transport, client }
    }

    pub fn is_hit_by(&self, target: &FaultTarget) -> bool {
        target.covers(self.transport, self.client.as_ref())
    }
}
