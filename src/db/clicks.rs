//! Clicks: written in multi-row batches by the click buffer, or one at a time (idempotent on
//! the id) when the Network reports them.

use sqlx::Row;

use super::Db;
use crate::domain::ids::PartnerId;
use crate::domain::time::Timestamp;

#[derive(Debug, Clone, Default)]
pub struct Click {
    pub id: String,
    pub link_id: String,
    pub partner_id: String,
    pub program_id: String,
    pub ts: i64,
    pub ip_hash: Option<String>,
    pub user_agent: Option<String>,
    pub referer: Option<String>,
    pub landing_url: Option<String>,
    pub utm: [Option<String>; 5],
    pub revoked: bool,
    /// `redirect` or `network`.
    pub source: &'static str,
}

/// A click, as attribution sees it.
#[derive(Debug, Clone)]
pub struct ClickRef {
    pub id: String,
    pub partner_id: PartnerId,
    pub program_id: String,
    pub ts: Timestamp,
    pub revoked: bool,
}

const COLUMNS: &str = "id, link_id, partner_id, program_id, ts, ip_hash, user_agent, referer, \
    landing_url, utm_source, utm_medium, utm_campaign, utm_term, utm_content, revoked, source";
const PER_ROW: usize = 16;
/// Rows per statement: well under both backends' bind-parameter limits.
pub const MAX_BATCH: usize = 1000;

fn click_ref(r: &sqlx::any::AnyRow) -> sqlx::Result<ClickRef> {
    Ok(ClickRef {
        id: r.try_get("id")?,
        partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
        program_id: r.try_get("program_id")?,
        ts: Timestamp::from_millis(r.try_get("ts")?),
        revoked: r.try_get::<i64, _>("revoked")? != 0,
    })
}

impl Db {
    /// Inserts clicks in one statement per `MAX_BATCH`; ids already present are skipped.
    pub async fn insert_clicks(&self, clicks: &[Click]) -> sqlx::Result<u64> {
        let mut inserted = 0;
        for chunk in clicks.chunks(MAX_BATCH) {
            let mut sql = format!("INSERT INTO clicks ({COLUMNS}) VALUES ");
            for i in 0..chunk.len() {
                if i > 0 {
                    sql.push(',');
                }
                sql.push('(');
                for c in 0..PER_ROW {
                    if c > 0 {
                        sql.push(',');
                    }
                    sql.push_str(&format!("${}", i * PER_ROW + c + 1));
                }
                sql.push(')');
            }
            sql.push_str(" ON CONFLICT (id) DO NOTHING");
            let mut q = sqlx::query(&sql);
            for c in chunk {
                q = q
                    .bind(c.id.as_str())
                    .bind(c.link_id.as_str())
                    .bind(c.partner_id.as_str())
                    .bind(c.program_id.as_str())
                    .bind(c.ts)
                    .bind(c.ip_hash.as_deref())
                    .bind(c.user_agent.as_deref())
                    .bind(c.referer.as_deref())
                    .bind(c.landing_url.as_deref());
                for u in &c.utm {
                    q = q.bind(u.as_deref());
                }
                q = q.bind(i64::from(c.revoked)).bind(c.source);
            }
            inserted += q.execute(self.pool()).await?.rows_affected();
        }
        Ok(inserted)
    }

    pub async fn get_click(&self, id: &str) -> sqlx::Result<Option<ClickRef>> {
        let row =
            sqlx::query("SELECT id, partner_id, program_id, ts, revoked FROM clicks WHERE id = $1")
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        row.as_ref().map(click_ref).transpose()
    }

    /// The customer's last click at or before `at`.
    pub async fn last_click_of_user(
        &self,
        user_id: &str,
        at: Timestamp,
    ) -> sqlx::Result<Option<ClickRef>> {
        let row = sqlx::query(
            "SELECT id, partner_id, program_id, ts, revoked FROM clicks \
             WHERE user_id = $1 AND ts <= $2 ORDER BY ts DESC, id DESC LIMIT 1",
        )
        .bind(user_id)
        .bind(at.millis())
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(click_ref).transpose()
    }

    /// Links a click to a customer id. False when there is no such click.
    pub async fn identify_click(&self, click_id: &str, user_id: &str) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE clicks SET user_id = $1 WHERE id = $2")
            .bind(user_id)
            .bind(click_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn count_clicks(&self, partner: &PartnerId, since: Timestamp) -> sqlx::Result<i64> {
        let row = sqlx::query("SELECT COUNT(*) FROM clicks WHERE partner_id = $1 AND ts >= $2")
            .bind(partner.as_str())
            .bind(since.millis())
            .fetch_one(self.pool())
            .await?;
        row.try_get(0)
    }

    /// Clicks per link of one partner since `since`.
    pub async fn clicks_by_link(
        &self,
        partner: &PartnerId,
        since: Timestamp,
    ) -> sqlx::Result<Vec<(String, i64)>> {
        let rows = sqlx::query(
            "SELECT link_id, COUNT(*) FROM clicks WHERE partner_id = $1 AND ts >= $2 GROUP BY link_id",
        )
        .bind(partner.as_str())
        .bind(since.millis())
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    pub async fn total_clicks(&self) -> sqlx::Result<i64> {
        sqlx::query("SELECT COUNT(*) FROM clicks")
            .fetch_one(self.pool())
            .await?
            .try_get(0)
    }
}
