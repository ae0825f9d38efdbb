//! Per-address rate limits on the endpoints that guess secrets: sign-in, invitations, tokens.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// A keyed GCRA limiter: `per_minute` requests per address and minute, with bursts up to the
/// same number.
#[derive(Clone)]
pub struct AuthRateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl AuthRateLimit {
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self { limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))) }
    }

    /// Whether one more request from `address` is allowed now.
    pub fn check(&self, address: IpAddr) -> bool {
        let allowed = self.limiter.check_key(&address).is_ok();
        // The map keeps one entry per address ever seen; drop the ones back to full capacity.
        if self.limiter.len() > 10_000 {
            self.limiter.retain_recent();
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_address_separately() {
        let limit = AuthRateLimit::new(3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limit.check(a)));
        assert!(!limit.check(a));
        assert!(limit.check(b));
    }
}
