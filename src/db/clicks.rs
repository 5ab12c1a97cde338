//! Clicks: written in multi-row batches by the click buffer, or one at a time (idempotent on
//! the id) when the Network reports them.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Backend, Db, Exec, Tx};
use crate::domain::ids::{ClickId, LinkId, PartnerId};
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
    /// Set on clicks the Network flags (`velocity`, `manual`, `revoked`): they earn nothing.
    pub fraud_flag: Option<String>,
    /// Two letters, lower case.
    pub country: Option<String>,
}

/// A click, as attribution sees it.
#[derive(Debug, Clone)]
pub struct ClickRef {
    pub id: ClickId,
    pub partner_id: PartnerId,
    pub program_id: String,
    pub ts: Timestamp,
    pub revoked: bool,
    pub fraud_flag: Option<String>,
}

const COLUMNS: &str = "id, link_id, partner_id, program_id, ts, ip_hash, user_agent, referer, \
    landing_url, utm_source, utm_medium, utm_campaign, utm_term, utm_content, revoked, source, fraud_flag, country";
/// Rows per statement.
pub const MAX_BATCH: usize = 2000;
/// A UTC day in epoch milliseconds: `click_daily.day` is `ts / DAY_MS`.
pub const DAY_MS: i64 = 86_400_000;

/// Adds click counts to the daily rollup, in one statement.
async fn add_daily_clicks(
    backend: Backend,
    tx: &mut Tx,
    daily: &std::collections::BTreeMap<(i64, String, String), i64>,
) -> sqlx::Result<()> {
    if daily.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = daily
        .iter()
        .map(|((day, partner, program), n)| {
            serde_json::json!({"day": day, "partner_id": partner, "program_id": program, "clicks": n})
        })
        .collect();
    let source = match backend {
        Backend::Sqlite => {
            "SELECT value ->> 'day', value ->> 'partner_id', value ->> 'program_id', value ->> 'clicks' \
             FROM json_each($1) WHERE true"
        }
        Backend::Postgres => {
            "SELECT day, partner_id, program_id, clicks FROM json_to_recordset($1::json) \
             AS x(day bigint, partner_id text, program_id text, clicks bigint)"
        }
    };
    sqlx::query(&format!(
        "INSERT INTO click_daily (day, partner_id, program_id, clicks) {source} \
         ON CONFLICT (day, partner_id, program_id) DO UPDATE SET clicks = click_daily.clicks + excluded.clicks"
    ))
    .bind(serde_json::Value::Array(rows).to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl FromRow<'_, AnyRow> for ClickRef {
    fn from_row(r: &AnyRow) -> sqlx::Result<ClickRef> {
        Ok(ClickRef {
            id: ClickId::from_string(r.try_get::<String, _>("id")?),
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            program_id: r.try_get("program_id")?,
            ts: Timestamp::from_millis(r.try_get("ts")?),
            revoked: r.try_get::<i64, _>("revoked")? != 0,
            fraud_flag: r.try_get("fraud_flag")?,
        })
    }
}

/// Inserts clicks, `MAX_BATCH` per statement, the whole batch as one JSON parameter that
/// the database unpacks (SQLite `json_each`, PostgreSQL `json_to_recordset`): one bind
/// instead of sixteen per row. Ids already present are skipped. Each statement runs in a
/// transaction with the `click_daily` rollup update for exactly the rows it inserted (read
/// back with `RETURNING`), so the rollup never drifts from the clicks.
pub async fn insert(db: &Db, clicks: &[Click]) -> sqlx::Result<u64> {
    let sql = match db.backend() {
        Backend::Sqlite => format!(
            "INSERT INTO clicks ({COLUMNS}) SELECT {} FROM json_each($1) WHERE true \
             ON CONFLICT (id) DO NOTHING RETURNING partner_id, program_id, ts",
            COLUMNS
                .split(", ")
                .map(|c| format!("value ->> '{c}'"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Backend::Postgres => format!(
            "INSERT INTO clicks ({COLUMNS}) SELECT {COLUMNS} FROM json_to_recordset($1::json) AS x(\
             id text, link_id text, partner_id text, program_id text, ts bigint, ip_hash text, \
             user_agent text, referer text, landing_url text, utm_source text, utm_medium text, \
             utm_campaign text, utm_term text, utm_content text, revoked bigint, source text, \
             fraud_flag text, country text) \
             ON CONFLICT (id) DO NOTHING RETURNING partner_id, program_id, ts"
        ),
    };
    let mut inserted = 0;
    for chunk in clicks.chunks(MAX_BATCH) {
        let rows: Vec<serde_json::Value> = chunk
            .iter()
            .map(|c| {
                serde_json::json!({
                    "id": c.id, "link_id": c.link_id, "partner_id": c.partner_id, "program_id": c.program_id,
                    "ts": c.ts, "ip_hash": c.ip_hash, "user_agent": c.user_agent, "referer": c.referer,
                    "landing_url": c.landing_url, "utm_source": c.utm[0], "utm_medium": c.utm[1],
                    "utm_campaign": c.utm[2], "utm_term": c.utm[3], "utm_content": c.utm[4],
                    "revoked": i64::from(c.revoked), "source": c.source,
                    "fraud_flag": c.fraud_flag, "country": c.country,
                })
            })
            .collect();
        let payload = serde_json::Value::Array(rows).to_string();
        let mut tx = db.begin().await?;
        let done = sqlx::query(&sql).bind(payload).fetch_all(&mut *tx).await?;
        // Sorted keys: concurrent batches lock rollup rows in one order (no deadlock).
        let mut daily: std::collections::BTreeMap<(i64, String, String), i64> =
            std::collections::BTreeMap::new();
        for r in &done {
            let ts: i64 = r.try_get(2)?;
            *daily
                .entry((ts.div_euclid(DAY_MS), r.try_get(0)?, r.try_get(1)?))
                .or_default() += 1;
        }
        add_daily_clicks(db.backend(), &mut tx, &daily).await?;
        tx.commit().await?;
        inserted += done.len() as u64;
    }
    Ok(inserted)
}

/// Sets clicks the database refused aside, each with its error; ids already set aside are
/// skipped.
pub async fn dead_letter(
    db: &Db,
    rows: &[(&Click, String)],
    now: crate::domain::time::Timestamp,
) -> sqlx::Result<()> {
    for (c, error) in rows {
        let payload = serde_json::json!({
            "id": c.id, "link_id": c.link_id, "partner_id": c.partner_id,
            "program_id": c.program_id, "ts": c.ts, "ip_hash": c.ip_hash,
            "user_agent": c.user_agent, "referer": c.referer, "landing_url": c.landing_url,
            "utm": c.utm, "revoked": c.revoked, "source": c.source,
            "fraud_flag": c.fraud_flag, "country": c.country,
        });
        // Escaped JSON text holds any character, NUL included, as plain ASCII.
        sqlx::query(
            "INSERT INTO click_dead_letters (id, payload, error, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(c.id.replace('\0', ""))
        .bind(payload.to_string())
        .bind(
            error
                .chars()
                .take(2000)
                .collect::<String>()
                .replace('\0', ""),
        )
        .bind(now.millis())
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

pub async fn dead_letter_count<'e>(ex: impl Exec<'e>) -> sqlx::Result<i64> {
    sqlx::query("SELECT COUNT(*) FROM click_dead_letters")
        .fetch_one(ex)
        .await?
        .try_get(0)
}

pub async fn get<'e>(ex: impl Exec<'e>, id: &ClickId) -> sqlx::Result<Option<ClickRef>> {
    sqlx::query_as(
        "SELECT id, partner_id, program_id, ts, revoked, fraud_flag FROM clicks WHERE id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(ex)
    .await
}

/// The customer's last click at or before `at`.
pub async fn last_of_user<'e>(
    ex: impl Exec<'e>,
    user_id: &str,
    at: Timestamp,
) -> sqlx::Result<Option<ClickRef>> {
    sqlx::query_as(
        "SELECT id, partner_id, program_id, ts, revoked, fraud_flag FROM clicks \
         WHERE user_id = $1 AND ts <= $2 ORDER BY ts DESC, id DESC LIMIT 1",
    )
    .bind(user_id)
    .bind(at.millis())
    .fetch_optional(ex)
    .await
}

/// Links a click to a customer id. False when there is no such click.
pub async fn identify<'e>(
    ex: impl Exec<'e>,
    click_id: &ClickId,
    user_id: &str,
) -> sqlx::Result<bool> {
    let done = sqlx::query("UPDATE clicks SET user_id = $1 WHERE id = $2")
        .bind(user_id)
        .bind(click_id.as_str())
        .execute(ex)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Clicks per link of one partner since `since`.
pub async fn by_link<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    since: Timestamp,
) -> sqlx::Result<Vec<(LinkId, i64)>> {
    let rows = sqlx::query(
        "SELECT link_id, COUNT(*) FROM clicks WHERE partner_id = $1 AND ts >= $2 GROUP BY link_id",
    )
    .bind(partner.as_str())
    .bind(since.millis())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                LinkId::from_string(r.try_get::<String, _>(0)?),
                r.try_get(1)?,
            ))
        })
        .collect()
}

pub async fn total<'e>(ex: impl Exec<'e>) -> sqlx::Result<i64> {
    sqlx::query("SELECT COUNT(*) FROM clicks")
        .fetch_one(ex)
        .await?
        .try_get(0)
}
