//! A request rate limit per client address on the API, so one runaway script in a classroom cannot starve the
//! rest of the class. The limiting itself is the `governor` crate's GCRA; this module only decides what is
//! limited and answers 429 with `Retry-After` and a JSON body.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::Request;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::api::error::ApiError;

/// Addresses remembered before forgetting the ones whose allowance is full again.
const ADDRESSES_BEFORE_PRUNING: usize = 4096;

/// Tones one address may send a minute, and at once. A tone is up to 43 KB in the history, whose audio budget
/// (4 MiB) it shares with the whole class: one person's burst must not push everyone's events out of it.
const TONES_PER_MINUTE: u32 = 20;
const TONE_BURST: u32 = 5;

#[derive(Clone)]
pub struct RequestRateLimit {
    /// `None`: no limit (`--max-requests-per-second 0`).
    limiter: Option<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    /// What the limit is, for the refusal: "more than 100 API requests a second".
    over: Arc<str>,
}

impl RequestRateLimit {
    /// `per_second` requests a second on average, with bursts of up to `burst` at once.
    pub fn new(per_second: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst).unwrap_or(rate);
            Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)))
        });
        let over =
            format!("more than {per_second} API requests a second (a lab page at the top event rate needs about 60)");
        Self { limiter, over: over.into() }
    }

    /// Each address's share of tones (see [`TONES_PER_MINUTE`]); off with the request limit (`unlimited`).
    pub fn tones(unlimited: bool) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(TONES_PER_MINUTE).expect("not zero"))
            .allow_burst(NonZeroU32::new(TONE_BURST).expect("not zero"));
        let limiter = (!unlimited).then(|| Arc::new(DefaultKeyedRateLimiter::keyed(quota)));
        let over = format!("more than {TONE_BURST} tones at once or {TONES_PER_MINUTE} a minute, the class's history's share for one person");
        Self { limiter, over: over.into() }
    }

    /// Counts every `/api/` request and gRPC call against its address's allowance. The page and its assets are not
    /// limited: a page load fetches several at once, and they are served from memory. Nor are deliveries to the
    /// lab's own webhook receiver: they come from the lab's own sender on loopback, which shares that address with
    /// a local page, and limiting them would show failures no receiver caused (the receiver checks a signature
    /// first, which costs one HMAC).
    pub fn check_request(&self, request: &Request, address: IpAddr) -> Result<(), ApiError> {
        let path = request.uri().path();
        let webhook_delivery =
            request.method() == axum::http::Method::POST && path.starts_with("/api/webhooks/receiver/");
        // gRPC calls (the lab's service and reflection, native or gRPC-web) are API requests too, whatever their
        // path.
        let content_type =
            request.headers().get(axum::http::header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
        let grpc = content_type.is_some_and(|content_type| content_type.starts_with("application/grpc"));
        let api = path.starts_with("/api/") || grpc;
        if api && !webhook_delivery {
            return self.check(address);
        }
        Ok(())
    }

    pub fn check(&self, address: IpAddr) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        if limiter.len() > ADDRESSES_BEFORE_PRUNING {
            limiter.retain_recent();
        }
        limiter.check_key(&address).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            ApiError::RateLimited {
                message: format!("{address} sent {}; slow down", self.over),
                retry_after_seconds: wait.as_secs_f64().ceil().max(1.0) as u64,
            }
        })
    }
}

/// Each address's share of tones, kept apart from its request allowance (see [`RequestRateLimit::tones`]).
#[derive(Clone)]
pub struct ToneLimit(pub RequestRateLimit);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_address_waits_and_others_do_not() {
        let limit = RequestRateLimit::new(1, 3);
        let noisy: IpAddr = "10.0.0.1".parse().unwrap();
        for _ in 0..3 {
            assert!(limit.check(noisy).is_ok());
        }
        assert!(matches!(limit.check(noisy), Err(ApiError::RateLimited { retry_after_seconds: 1, .. })));
        assert!(limit.check("10.0.0.2".parse().unwrap()).is_ok());
    }

    #[test]
    fn zero_means_unlimited() {
        let limit = RequestRateLimit::new(0, 0);
        assert!((0..10_000).all(|_| limit.check(IpAddr::from([127, 0, 0, 1])).is_ok()));
    }
}
