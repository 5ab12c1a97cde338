//! Share links: creating them under the rules (key shape, grants, destination overrides) and
//! resolving a key for the redirect from the link cache (`crate::link_cache`), so a redirect
//! costs no database round trip.

use std::sync::Arc;

use crate::db::links::{Link, NewLinkRow};
use crate::db::{self};
use crate::domain::ids::{LinkId, PartnerId, ProgramId};
use crate::error::{ApiError, ApiResult, OnUnique};
use crate::link_cache::Resolved;
use crate::state::AppState;
use crate::webhooks::{self, EventType};

/// Resolves a link key, from the cache when possible (unknown keys are cached too). A key that
/// cannot exist (wrong length or characters) is refused before any lookup or caching.
pub async fn resolve(state: &AppState, key: &str) -> ApiResult<Option<Arc<Resolved>>> {
    if !valid_key(key) {
        return Ok(None);
    }
    if let Some(hit) = state.link_cache.get(&key.to_string()) {
        return Ok(hit);
    }
    let ticket = state.link_cache.ticket();
    let resolved = db::links::target(state.db.pool(), key)
        .await?
        .map(|t| Arc::new(Resolved::new(t)));
    state
        .link_cache
        .insert(ticket, key.to_string(), resolved.clone());
    Ok(resolved)
}

/// A valid link key: 3–64 of `[A-Za-z0-9_-]`.
pub fn valid_key(key: &str) -> bool {
    (3..=64).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The host of `candidate` equals, or is a subdomain of, the host of `base`.
fn same_site(base: &str, candidate: &url::Url) -> bool {
    let Some(base_host) = url::Url::parse(base)
        .ok()
        .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    else {
        return false;
    };
    let Some(host) = candidate.host_str().map(str::to_ascii_lowercase) else {
        return false;
    };
    host == base_host || host.ends_with(&format!(".{base_host}"))
}

pub struct NewLink {
    pub partner: PartnerId,
    pub key: String,
    pub program: String,
    pub destination_url: Option<String>,
    /// The partner itself is asking: only granted programs.
    pub as_partner: bool,
}

pub async fn create(state: &AppState, req: NewLink) -> ApiResult<Link> {
    if !valid_key(&req.key) {
        return Err(ApiError::invalid_field(
            "linkKey",
            "must be 3 to 64 characters of A-Z, a-z, 0-9, _ and -",
        ));
    }
    let partner = db::partners::get(state.db.pool(), &req.partner)
        .await?
        .ok_or_else(|| ApiError::not_found("No such partner."))?;
    if partner.revoked_at.is_some() {
        return Err(ApiError::conflict(
            "partner_revoked",
            "This partner is revoked.",
        ));
    }
    let program = db::programs::get(state.db.pool(), &req.program)
        .await?
        .ok_or_else(|| ApiError::invalid_field("programId", "no such program"))?;
    if req.as_partner && !partner.program_ids.contains(&program.id) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "campaign_not_granted",
            "This program is not granted to you.",
        ));
    }
    let override_url = match req
        .destination_url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        None => None,
        Some(u) if u == program.destination_url || url_eq(u, &program.destination_url) => None,
        Some(u) => match url::Url::parse(u) {
            Ok(parsed)
                if matches!(parsed.scheme(), "http" | "https")
                    && same_site(&program.destination_url, &parsed) =>
            {
                Some(parsed.to_string())
            }
            _ => {
                return Err(ApiError::bad_request(
                    "destination_override_not_allowed",
                    "A link may only point at the program's site (its host or a subdomain of it).",
                ));
            }
        },
    };
    let id = LinkId::generate();
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let program_id = ProgramId::from_string(program.id.as_str());
    let row = NewLinkRow {
        id: &id,
        link_key: &req.key,
        partner: &partner.id,
        program: &program_id,
        override_url: override_url.as_deref(),
        created_at: now,
        grant: !req.as_partner,
    };
    db::links::insert(&mut tx, &row)
        .await
        .on_unique(|| ApiError::conflict("linkKey_taken", "This link key is taken."))?;
    let link = db::links::get(&mut *tx, &id)
        .await?
        .ok_or_else(|| ApiError::internal("link vanished after insert"))?;
    let url = &state.config.public_url;
    webhooks::record_view(&mut tx, EventType::LinkCreated, &link, url, now).await?;
    tx.commit().await?;
    // The key may have been cached as unknown.
    state.link_cache.clear();
    Ok(link)
}

fn url_eq(a: &str, b: &str) -> bool {
    matches!((url::Url::parse(a), url::Url::parse(b)), (Ok(x), Ok(y)) if x == y)
}
