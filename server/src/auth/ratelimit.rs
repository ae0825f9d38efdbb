//! Keyed rate limits: per client address on the endpoints that guess secrets (sign-in,
//! invitations, tokens), per user on chat posts.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use relais_storage::UserId;

/// Keys seen before the limiter forgets the ones back at full capacity.
const KEYS_KEPT: usize = 10_000;

/// A keyed GCRA limiter: `per_minute` requests per key and minute, with bursts up to the same
/// number.
pub struct KeyedRateLimit<K: Hash + Eq + Clone> {
    limiter: Arc<DefaultKeyedRateLimiter<K>>,
}

// Not derived: the key type itself need not be `Clone` for the limiter to be shared.
impl<K: Hash + Eq + Clone> Clone for KeyedRateLimit<K> {
    fn clone(&self) -> Self {
        Self { limiter: self.limiter.clone() }
    }
}

impl<K: Hash + Eq + Clone> KeyedRateLimit<K> {
    pub fn new(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self { limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(per_minute))) }
    }

    /// Whether one more request for `key` is allowed now.
    pub fn check(&self, key: &K) -> bool {
        let allowed = self.limiter.check_key(key).is_ok();
        // The map keeps one entry per key ever seen; drop the ones back to full capacity.
        if self.limiter.len() > KEYS_KEPT {
            self.limiter.retain_recent();
        }
        allowed
    }
}

/// Sign-in, invitation and token requests, per client address.
pub type AuthRateLimit = KeyedRateLimit<IpAddr>;
/// Chat posts, per user.
pub type ChatRateLimit = KeyedRateLimit<UserId>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_each_address_separately() {
        let limit = AuthRateLimit::new(3);
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        assert!((0..3).all(|_| limit.check(&a)));
        assert!(!limit.check(&a));
        assert!(limit.check(&b));
    }
}
