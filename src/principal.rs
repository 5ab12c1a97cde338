//! Who is calling: resolves a bearer secret (API key or partner session) to a [`Principal`].
//!
//! Hot keys cost no database round trip: verified results sit in a bounded in-process cache
//! keyed by the secret's SHA-256 ([`TtlCache`]). Revocations on this replica clear the cache at
//! once; on other replicas an entry is re-read from the database after `cache_ttl`, so a
//! revocation reaches every replica within that many seconds.

use std::sync::Arc;
use std::time::Duration;

use crate::cache::TtlCache;
use crate::clock::SharedClock;
use crate::db;
use crate::db::Db;
use crate::db::api_keys::KeyKind;
use crate::db::sessions::{LiveAdminSession, SessionKey};
use crate::domain::ids::{ApiKeyId, PartnerId, SessionId};
use crate::domain::scopes::{Scope, ScopeSet};
use crate::domain::time::Timestamp;
use crate::domain::tokens::{TokenKind, ct_eq, digest, display_prefix, hash_token};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Everything. `key_id` is `None` for the configured `ADMIN_API_KEY`.
    Admin { key_id: Option<ApiKeyId> },
    /// Only the listed scopes, never admin-only routes.
    Scoped { key_id: ApiKeyId, scopes: ScopeSet },
    /// Acts as one partner: through a partner key or a session.
    Partner {
        partner_id: PartnerId,
        credential: PartnerCredential,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartnerCredential {
    Key(ApiKeyId),
    Session(SessionId),
}

impl Principal {
    pub fn is_admin(&self) -> bool {
        matches!(self, Principal::Admin { .. })
    }

    pub fn has_scope(&self, scope: Scope) -> bool {
        match self {
            Principal::Admin { .. } => true,
            Principal::Scoped { scopes, .. } => scopes.contains(scope),
            Principal::Partner { .. } => false,
        }
    }

    pub fn partner_id(&self) -> Option<&PartnerId> {
        match self {
            Principal::Partner { partner_id, .. } => Some(partner_id),
            _ => None,
        }
    }
}

#[derive(Clone)]
struct Cached {
    principal: Option<Principal>,
    /// Business-time expiry (sessions), checked on every hit.
    expires_at: Option<Timestamp>,
}

pub struct Authenticator {
    db: Db,
    clock: SharedClock,
    admin_key_digest: Option<[u8; 32]>,
    cache: TtlCache<[u8; 32], Cached>,
}

impl Authenticator {
    pub fn new(
        db: Db,
        clock: SharedClock,
        admin_api_key: Option<&str>,
        ttl: Duration,
        capacity: usize,
    ) -> Arc<Self> {
        Arc::new(Authenticator {
            db,
            clock,
            admin_key_digest: admin_api_key.map(digest),
            cache: TtlCache::new(capacity, ttl),
        })
    }

    /// Resolves a bearer secret. `Ok(None)` = unknown, revoked or expired.
    pub async fn authenticate(&self, token: &str) -> sqlx::Result<Option<Principal>> {
        let key = digest(token);
        if let Some(admin) = &self.admin_key_digest {
            if bool::from(subtle::ConstantTimeEq::ct_eq(&key[..], &admin[..])) {
                return Ok(Some(Principal::Admin { key_id: None }));
            }
        }
        let now = self.clock.now();
        if let Some(hit) = self.cache.get(&key) {
            if hit.expires_at.is_none_or(|at| now < at) {
                return Ok(hit.principal);
            }
        }
        let ticket = self.cache.ticket();
        let (principal, expires_at) = match TokenKind::of(token) {
            Some(TokenKind::ApiKey) => (self.load_api_key(token, now).await?, None),
            Some(TokenKind::Session) => {
                match db::sessions::live(self.db.pool(), &hash_token(token), now).await? {
                    Some(s) => (
                        Some(Principal::Partner {
                            partner_id: s.partner_id,
                            credential: PartnerCredential::Session(s.id),
                        }),
                        Some(s.expires_at),
                    ),
                    None => (None, None),
                }
            }
            Some(TokenKind::AdminSession) => {
                match db::sessions::live_admin(self.db.pool(), &hash_token(token), now).await? {
                    // Opened with an admin API key that is still live (the query checks it).
                    Some(LiveAdminSession {
                        key: SessionKey::ApiKey(id),
                        expires_at,
                    }) => (
                        Some(Principal::Admin {
                            key_id: Some(ApiKeyId::from_string(id)),
                        }),
                        Some(expires_at),
                    ),
                    // Opened with the configured key: only while the setting is unchanged.
                    Some(LiveAdminSession {
                        key: SessionKey::Configured(opened_with),
                        expires_at,
                    }) if self
                        .configured_digest_hex()
                        .is_some_and(|current| ct_eq(&current, &opened_with)) =>
                    {
                        (Some(Principal::Admin { key_id: None }), Some(expires_at))
                    }
                    _ => (None, None),
                }
            }
            // Malformed secrets never touch the database.
            _ => return Ok(None),
        };
        self.cache.insert(
            ticket,
            key,
            Cached {
                principal: principal.clone(),
                expires_at,
            },
        );
        Ok(principal)
    }

    /// The key a console sign-in may open a session with: an admin API key, or the configured
    /// `ADMIN_API_KEY`. Never a session token (a session cannot renew itself).
    pub async fn sign_in_key(&self, token: &str) -> sqlx::Result<Option<SessionKey>> {
        if let (Some(admin), Some(hex)) = (&self.admin_key_digest, self.configured_digest_hex()) {
            if bool::from(subtle::ConstantTimeEq::ct_eq(
                &digest(token)[..],
                &admin[..],
            )) {
                return Ok(Some(SessionKey::Configured(hex)));
            }
        }
        if TokenKind::of(token) != Some(TokenKind::ApiKey) {
            return Ok(None);
        }
        Ok(match self.load_api_key(token, self.clock.now()).await? {
            Some(Principal::Admin { key_id: Some(id) }) => Some(SessionKey::ApiKey(id.to_string())),
            _ => None,
        })
    }

    /// The configured admin key's SHA-256 as hex, as console sessions record it.
    fn configured_digest_hex(&self) -> Option<String> {
        self.admin_key_digest.map(hex::encode)
    }

    async fn load_api_key(&self, token: &str, now: Timestamp) -> sqlx::Result<Option<Principal>> {
        let hash = hash_token(token);
        let candidates =
            db::api_keys::live_by_prefix(self.db.pool(), &display_prefix(token)).await?;
        let Some(row) = candidates.into_iter().find(|k| ct_eq(&k.key_hash, &hash)) else {
            return Ok(None);
        };
        // Best effort and off the request path: lastUsedAt is accurate to the cache TTL.
        let db = self.db.clone();
        let id = row.id.clone();
        tokio::spawn(async move {
            if let Err(e) = db::api_keys::touch(db.pool(), &id, now).await {
                tracing::warn!(error = %e, "could not record key use");
            }
        });
        Ok(match row.kind {
            KeyKind::Admin => Some(Principal::Admin {
                key_id: Some(row.id),
            }),
            KeyKind::Scoped => Some(Principal::Scoped {
                key_id: row.id,
                scopes: row.scopes,
            }),
            KeyKind::Partner => row.partner_id.map(|partner_id| Principal::Partner {
                partner_id,
                credential: PartnerCredential::Key(row.id),
            }),
        })
    }

    /// Forgets every cached result. Called after any revocation on this replica; revocations
    /// are rare, so dropping the whole cache is cheaper than tracking which entries to drop.
    pub fn invalidate_all(&self) {
        self.cache.clear();
    }
}
