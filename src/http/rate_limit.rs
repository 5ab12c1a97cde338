//! Per-IP rate limits for the public endpoints where abuse is cheap (the limiters themselves,
//! [`crate::rate_limit::RateLimits`], are held by the state): spending a unit or answering
//! 429, and who the client is.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use governor::DefaultKeyedRateLimiter;
use governor::clock::{Clock, DefaultClock};

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

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

/// The client's IP: the peer address or, when `OPENPARTNER_TRUST_PROXY` is on, the address our
/// outermost proxy appended to `X-Forwarded-For`: the `OPENPARTNER_TRUSTED_PROXY_HOPS`-th entry
/// from the right. Entries left of it were written by the client and are never believed.
pub struct ClientIp(pub IpAddr);

/// The `hops`-th address from the right of `X-Forwarded-For` (all headers, in order).
fn forwarded_client(headers: &axum::http::HeaderMap, hops: usize) -> Option<IpAddr> {
    let mut entries: Vec<&str> = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        let value = value.to_str().ok()?;
        entries.extend(value.split(',').map(str::trim));
    }
    let at = entries.len().checked_sub(hops)?;
    entries[at].parse::<IpAddr>().ok()
}

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if state.config.trust_proxy {
            if let Some(ip) = forwarded_client(&parts.headers, state.config.trusted_proxy_hops) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_what_our_proxies_appended() {
        let mut h = axum::http::HeaderMap::new();
        h.append("x-forwarded-for", "6.6.6.6, 1.2.3.4".parse().unwrap());
        assert_eq!(forwarded_client(&h, 1), Some(IpAddr::from([1, 2, 3, 4])));
        assert_eq!(forwarded_client(&h, 2), Some(IpAddr::from([6, 6, 6, 6])));
        assert_eq!(forwarded_client(&h, 3), None);
        h.append("x-forwarded-for", "10.0.0.1".parse().unwrap());
        assert_eq!(forwarded_client(&h, 2), Some(IpAddr::from([1, 2, 3, 4])));
        let mut bad = axum::http::HeaderMap::new();
        bad.append("x-forwarded-for", "1.2.3.4, not-an-ip".parse().unwrap());
        assert_eq!(forwarded_client(&bad, 1), None);
    }
}
