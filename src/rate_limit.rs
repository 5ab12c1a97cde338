//! Per-IP rate limits (governor) for the public endpoints where abuse is cheap: partner
//! sign-up, sign-in links and magic-link verification. Each has its own budget. The limiters
//! are infrastructure the state holds; `http::rate_limit` spends them.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct RateLimits {
    pub signup: DefaultKeyedRateLimiter<IpAddr>,
    pub signin: DefaultKeyedRateLimiter<IpAddr>,
    pub verify: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimits {
    pub fn new(per_minute: u32) -> RateLimits {
        let quota =
            Quota::per_minute(NonZeroU32::new(per_minute.max(1)).unwrap_or(NonZeroU32::MIN));
        RateLimits {
            signup: RateLimiter::keyed(quota),
            signin: RateLimiter::keyed(quota),
            verify: RateLimiter::keyed(quota),
        }
    }
}
