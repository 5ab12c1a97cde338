//! Share links, and the redirect's view of one (the link joined with its partner and program).

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Backend, Exec, Tx, backend_of};
use crate::domain::ids::{LinkId, PartnerId, ProgramId};
use crate::domain::time::Timestamp;

#[derive(Debug, Clone)]
pub struct Link {
    pub id: LinkId,
    pub link_key: String,
    pub partner_id: PartnerId,
    pub program_id: ProgramId,
    /// The override, or the program's destination.
    pub destination_url: String,
    pub created_at: Timestamp,
}

/// A link to insert.
pub struct NewLinkRow<'a> {
    pub id: &'a LinkId,
    pub link_key: &'a str,
    pub partner: &'a PartnerId,
    pub program: &'a ProgramId,
    pub override_url: Option<&'a str>,
    pub created_at: Timestamp,
    /// Grant the program to the partner in the same transaction (an admin's or the Network's
    /// link admits the partner to it); false when the partner itself asks (its grant is
    /// required, never added).
    pub grant: bool,
}

/// What a redirect needs: where to send the visitor and whom the click belongs to.
#[derive(Debug, Clone)]
pub struct LinkTarget {
    pub link_id: LinkId,
    pub partner_id: PartnerId,
    pub program_id: ProgramId,
    pub destination_url: String,
    pub partner_revoked: bool,
    pub attribution_window_days: i64,
}

const SELECT: &str = "SELECT l.id, l.link_key, l.partner_id, l.program_id, l.created_at, \
    COALESCE(l.override_url, p.destination_url) AS destination_url \
    FROM links l JOIN programs p ON p.id = l.program_id";

impl FromRow<'_, AnyRow> for Link {
    fn from_row(r: &AnyRow) -> sqlx::Result<Link> {
        Ok(Link {
            id: LinkId::from_string(r.try_get::<String, _>("id")?),
            link_key: r.try_get("link_key")?,
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            program_id: ProgramId::from_string(r.try_get::<String, _>("program_id")?),
            destination_url: r.try_get("destination_url")?,
            created_at: Timestamp::from_millis(r.try_get("created_at")?),
        })
    }
}

impl FromRow<'_, AnyRow> for LinkTarget {
    fn from_row(r: &AnyRow) -> sqlx::Result<LinkTarget> {
        Ok(LinkTarget {
            link_id: LinkId::from_string(r.try_get::<String, _>("id")?),
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            program_id: ProgramId::from_string(r.try_get::<String, _>("program_id")?),
            destination_url: r.try_get("destination_url")?,
            attribution_window_days: r.try_get("attribution_window_days")?,
            partner_revoked: r.try_get::<Option<i64>, _>("revoked_at")?.is_some(),
        })
    }
}

/// Inserts a link (a taken key is a unique violation) and, in the same transaction, grants
/// its program to the partner (the Network links an approved creator, also one already a
/// partner here, and that admits it to the program). The grant is one conditional
/// statement: concurrent grants of other programs are never lost to a read-modify-write.
pub async fn insert(tx: &mut Tx, link: &NewLinkRow<'_>) -> sqlx::Result<()> {
    let (partner, program, now) = (link.partner, link.program, link.created_at);
    sqlx::query(
        "INSERT INTO links (id, link_key, partner_id, program_id, override_url, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(link.id.as_str())
    .bind(link.link_key)
    .bind(partner.as_str())
    .bind(program.as_str())
    .bind(link.override_url)
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    let change = super::audit::Change {
        action: "link.create",
        target_type: "link",
        target_id: link.id.as_str(),
        changes: serde_json::json!({
            "linkKey": {"before": null, "after": link.link_key},
            "partnerId": {"before": null, "after": partner.as_str()},
            "programId": {"before": null, "after": program.as_str()},
            "overrideUrl": {"before": null, "after": link.override_url},
        }),
    };
    super::audit::append(tx, change, now).await?;
    if !link.grant {
        return Ok(());
    }
    // program_ids is a space-separated list; ids hold no spaces.
    let listed = match backend_of(tx) {
        Backend::Sqlite => "instr(' ' || program_ids || ' ', ' ' || $2 || ' ') > 0",
        Backend::Postgres => "strpos(' ' || program_ids || ' ', ' ' || $2 || ' ') > 0",
    };
    sqlx::query(&format!(
        "UPDATE partners SET program_ids = CASE WHEN program_ids = '' THEN $2 \
         ELSE program_ids || ' ' || $2 END, updated_at = $3 \
         WHERE id = $1 AND NOT ({listed})"
    ))
    .bind(partner.as_str())
    .bind(program.as_str())
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn get<'e>(ex: impl Exec<'e>, id: &LinkId) -> sqlx::Result<Option<Link>> {
    sqlx::query_as(&format!("{SELECT} WHERE l.id = $1"))
        .bind(id.as_str())
        .fetch_optional(ex)
        .await
}

pub async fn list_for_partner<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
) -> sqlx::Result<Vec<Link>> {
    sqlx::query_as(&format!(
        "{SELECT} WHERE l.partner_id = $1 ORDER BY l.created_at, l.id"
    ))
    .bind(partner.as_str())
    .fetch_all(ex)
    .await
}

/// The redirect's lookup: one indexed read joining link, program and partner.
pub async fn target<'e>(ex: impl Exec<'e>, link_key: &str) -> sqlx::Result<Option<LinkTarget>> {
    sqlx::query_as(
        "SELECT l.id, l.partner_id, l.program_id, \
         COALESCE(l.override_url, p.destination_url) AS destination_url, \
         p.attribution_window_days, pa.revoked_at \
         FROM links l JOIN programs p ON p.id = l.program_id JOIN partners pa ON pa.id = l.partner_id \
         WHERE l.link_key = $1",
    )
    .bind(link_key)
    .fetch_optional(ex)
    .await
}
