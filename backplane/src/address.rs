//! Which engine, and where: `--backplane`'s value, and what goes wrong talking to it.

use std::fmt;
use std::str::FromStr;

/// `--backplane`: which engine, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BackplaneUrl {
    Nats(String),
    Redis(String),
}

impl FromStr for BackplaneUrl {
    type Err = BackplaneError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let scheme = text.split_once("://").map(|(scheme, _)| scheme.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("nats") => Ok(Self::Nats(text.to_owned())),
            Some("redis") => Ok(Self::Redis(text.to_owned())),
            _ => Err(BackplaneError::UnknownEngine { url: text.to_owned() }),
        }
    }
}

impl fmt::Display for BackplaneUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nats(url) => write!(f, "NATS JetStream at {url}"),
            Self::Redis(url) => write!(f, "Redis Streams at {url}"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BackplaneError {
    #[error("`{url}` names no engine the lab knows: use nats://HOST:PORT (NATS JetStream) or redis://HOST:PORT (Redis Streams)")]
    UnknownEngine { url: String },
    #[error("cannot reach {engine}: {reason}")]
    Unreachable { engine: String, reason: String },
    #[error("{engine} did not answer within {seconds} s (what was asked may still be done)")]
    TimedOut { engine: String, seconds: u64 },
    #[error("{engine} refused: {reason}")]
    Refused { engine: String, reason: String },
    #[error("an event in {engine} cannot be read: {reason}")]
    Unreadable { engine: String, reason: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_engine() {
        assert_eq!(
            "nats://127.0.0.1:4222".parse::<BackplaneUrl>().unwrap(),
            BackplaneUrl::Nats("nats://127.0.0.1:4222".into())
        );
        assert_eq!("REDIS://h:6379".parse::<BackplaneUrl>().unwrap(), BackplaneUrl::Redis("REDIS://h:6379".into()));
        for bad in ["127.0.0.1:4222", "http://x", "", "kafka://x"] {
            let error = bad.parse::<BackplaneUrl>().unwrap_err();
            assert!(error.to_string().contains("nats://HOST:PORT"), "{error}");
        }
    }
}
