//! Per-IP rate limits (governor) for the public endpoints where abuse is cheap: partner
//! sign-up, sign-in links and magic-link verification. Each has its own budget.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

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

/// Spends one unit of `limiter` for `ip`, or answers 429 with `retry-after`.
pub fn check(limiter: &DefaultKeyedRateLimiter<IpAddr>, ip: IpAddr) -> ApiResult<()> {
    // Keep memory bounded under address churn.
    if limiter.len() > 100_000 {
        limiter.retain_recent();
    }
    limiter.check_key(&ip).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        ApiError::too_many_requests(wait.as_secs() + 1)
    })
}

/// The client's IP: the peer address, or the first `X-Forwarded-For` hop when
/// `OPENPARTNER_TRUST_PROXY` is on.
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.trust_proxy {
            let forwarded = parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .and_then(|v| v.trim().parse::<IpAddr>().ok());
            if let Some(ip) = forwarded {
                return Ok(ClientIp(ip));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(ClientIp(peer))
    }
}
