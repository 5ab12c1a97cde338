//! Minting and revoking API keys: shared by the HTTP API and the `openpartner keys` CLI.

use crate::clock::SharedClock;
use crate::db;
use crate::db::Db;
use crate::db::api_keys::{ApiKeyRow, KeyKind, NewApiKey};
use crate::domain::ids::{ApiKeyId, PartnerId};
use crate::domain::scopes::ScopeSet;
use crate::domain::tokens::{NewToken, TokenKind};

/// A key just minted: the row, and the plaintext shown exactly once.
pub struct MintedKey {
    pub row: ApiKeyRow,
    pub plaintext: String,
}

/// Mints an admin or scoped key (or a partner key where no revocation can race it).
pub async fn mint(
    db: &Db,
    clock: &SharedClock,
    kind: KeyKind,
    scopes: ScopeSet,
    partner_id: Option<&PartnerId>,
    label: Option<&str>,
) -> sqlx::Result<MintedKey> {
    mint_checked(db, clock, kind, scopes, partner_id, label)
        .await?
        .ok_or(sqlx::Error::RowNotFound)
}

/// Mints a partner's key, unless the partner is revoked: `None` then. A revocation running at
/// the same moment either comes first (no key) or revokes the new key too.
pub async fn mint_partner_key(
    db: &Db,
    clock: &SharedClock,
    partner_id: &PartnerId,
    label: Option<&str>,
) -> sqlx::Result<Option<MintedKey>> {
    mint_checked(
        db,
        clock,
        KeyKind::Partner,
        ScopeSet::default(),
        Some(partner_id),
        label,
    )
    .await
}

async fn mint_checked(
    db: &Db,
    clock: &SharedClock,
    kind: KeyKind,
    scopes: ScopeSet,
    partner_id: Option<&PartnerId>,
    label: Option<&str>,
) -> sqlx::Result<Option<MintedKey>> {
    let token = NewToken::generate(TokenKind::ApiKey);
    let id = ApiKeyId::generate();
    let prefix = token.display_prefix();
    let created_at = clock.now();
    let inserted = db::api_keys::insert(
        db,
        NewApiKey {
            id: &id,
            prefix: &prefix,
            key_hash: &token.hash,
            kind,
            scopes,
            partner_id,
            label,
            created_at,
        },
    )
    .await?;
    if !inserted {
        return Ok(None);
    }
    Ok(Some(MintedKey {
        row: ApiKeyRow {
            id,
            prefix,
            key_hash: token.hash,
            kind,
            scopes,
            partner_id: partner_id.cloned(),
            label: label.map(str::to_owned),
            created_at,
            last_used_at: None,
            revoked_at: None,
        },
        plaintext: token.plaintext,
    }))
}
