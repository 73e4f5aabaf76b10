//! This instance's place in a lab run as several instances on one shared log (`--backplane`): its name, the
//! engine, whether it runs the generator, and whether the log can be reached.

use std::sync::Arc;

use protocol::ClusterFigures;

use crate::core::leadership::Leadership;
use crate::core::replica::LogHealth;

#[derive(Clone)]
pub struct Membership {
    /// `--instance`, or this host's name and port: what `x-lab-instance` and each stream's `hello` say.
    pub instance: Arc<str>,
    /// The engine and its URL, for people to read.
    pub engine: String,
    pub health: LogHealth,
    pub leadership: Leadership,
}

impl Membership {
    pub fn figures(&self) -> ClusterFigures {
        ClusterFigures {
            instance: self.instance.to_string(),
            engine: self.engine.clone(),
            generator: self.leadership.is_leader(),
            log_problem: self.health.problem(),
        }
    }
}
