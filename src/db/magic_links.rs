//! Magic-link tokens (`opml_`, stored hashed): single use, consumed by one conditional update.

use sqlx::Row;

use super::Exec;
use crate::domain::ids::PartnerId;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    SignIn,
    Signup,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::SignIn => "signin",
            Purpose::Signup => "signup",
        }
    }

    fn parse(s: &str) -> Purpose {
        match s {
            "invite" => Purpose::Invite,
            "signup" => Purpose::Signup,
            _ => Purpose::SignIn,
        }
    }
}

pub async fn insert<'e>(
    ex: impl Exec<'e>,
    token_hash: &str,
    partner_id: &PartnerId,
    purpose: Purpose,
    now: Timestamp,
    expires_at: Timestamp,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO magic_links (id, token_hash, partner_id, purpose, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ulid::Ulid::new().to_string())
    .bind(token_hash)
    .bind(partner_id.as_str())
    .bind(purpose.as_str())
    .bind(now.millis())
    .bind(expires_at.millis())
    .execute(ex)
    .await?;
    Ok(())
}

/// Marks the link used if it is unused and unexpired. Of two concurrent calls only one
/// gets `Some`: the update's condition is checked and set in one statement.
pub async fn consume<'e>(
    ex: impl Exec<'e>,
    token_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<(PartnerId, Purpose)>> {
    let row = sqlx::query(
        "UPDATE magic_links SET used_at = $1 \
         WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1 \
         RETURNING partner_id, purpose",
    )
    .bind(now.millis())
    .bind(token_hash)
    .fetch_optional(ex)
    .await?;
    row.map(|r| {
        Ok((
            PartnerId::from_string(r.try_get::<String, _>(0)?),
            Purpose::parse(&r.try_get::<String, _>(1)?),
        ))
    })
    .transpose()
}

/// The partner of a usable (unused, unexpired) link, without using it.
pub async fn partner_of<'e>(
    ex: impl Exec<'e>,
    token_hash: &str,
    now: Timestamp,
) -> sqlx::Result<Option<PartnerId>> {
    let row = sqlx::query(
        "SELECT partner_id FROM magic_links WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash)
    .bind(now.millis())
    .fetch_optional(ex)
    .await?;
    row.map(|r| Ok(PartnerId::from_string(r.try_get::<String, _>(0)?)))
        .transpose()
}
