//! Conversion events. The external id is unique: a duplicate replays the stored answer.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::Exec;
use crate::domain::ids::{EventId, PartnerId};
use crate::domain::money::Currency;
use crate::domain::time::Timestamp;

pub struct NewEvent<'a> {
    pub id: &'a EventId,
    pub external_event_id: &'a str,
    pub kind: &'a str,
    pub value_minor: i64,
    pub currency: &'a str,
    pub click_id: Option<&'a str>,
    pub user_id: Option<&'a str>,
    pub ts: Timestamp,
    pub partner_id: Option<&'a str>,
    pub program_id: Option<&'a str>,
    pub attributed: bool,
    pub result: &'a str,
    pub created_at: Timestamp,
}

/// The sale (or other conversion) a commission came from, as its partner may see it: no
/// customer, no click.
#[derive(Debug, Clone)]
pub struct SaleRow {
    pub id: EventId,
    /// The brand's own id for it (an order or invoice reference; `stripe:invoice:<id>` for
    /// Stripe's).
    pub external_event_id: String,
    pub kind: String,
    pub value_minor: i64,
    pub currency: Currency,
    pub ts: Timestamp,
}

impl FromRow<'_, AnyRow> for SaleRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<SaleRow> {
        Ok(SaleRow {
            id: EventId::from_string(r.try_get::<String, _>(0)?),
            external_event_id: r.try_get(1)?,
            kind: r.try_get(2)?,
            value_minor: r.try_get(3)?,
            currency: super::decode("events.currency", r.try_get(4)?, |s| {
                Currency::parse(s).ok()
            })?,
            ts: Timestamp::from_millis(r.try_get(5)?),
        })
    }
}

/// The events with these ids, in one query (a page of commissions at most: 500).
pub async fn sales_by_ids<'e>(ex: impl Exec<'e>, ids: &[&EventId]) -> sqlx::Result<Vec<SaleRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT id, external_event_id, type, value_minor, currency, ts FROM events WHERE id IN ({})",
        marks.join(", ")
    );
    let mut q = sqlx::query_as(&sql);
    for id in ids {
        q = q.bind(id.as_str());
    }
    q.fetch_all(ex).await
}

/// Records an event; a repeated external id is a unique violation.
pub async fn insert<'e>(ex: impl Exec<'e>, e: &NewEvent<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO events (id, external_event_id, type, value_minor, currency, click_id, user_id, \
         ts, partner_id, program_id, attributed, result, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(e.id.as_str())
    .bind(e.external_event_id)
    .bind(e.kind)
    .bind(e.value_minor)
    .bind(e.currency)
    .bind(e.click_id)
    .bind(e.user_id)
    .bind(e.ts.millis())
    .bind(e.partner_id)
    .bind(e.program_id)
    .bind(i64::from(e.attributed))
    .bind(e.result)
    .bind(e.created_at.millis())
    .execute(ex)
    .await?;
    Ok(())
}

/// The answer stored with an event, by its external id.
pub async fn result<'e>(
    ex: impl Exec<'e>,
    external_event_id: &str,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT result FROM events WHERE external_event_id = $1")
        .bind(external_event_id)
        .fetch_optional(ex)
        .await
}

/// (attributed events, [(currency, events, revenue in minor units)]) since `since`, the
/// currency with the most events first.
pub async fn attributed_totals<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    since: Timestamp,
) -> sqlx::Result<(i64, Vec<(String, i64, i64)>)> {
    let rows = sqlx::query(
        "SELECT currency, COUNT(*), CAST(COALESCE(SUM(value_minor), 0) AS BIGINT) FROM events \
         WHERE partner_id = $1 AND attributed = 1 AND ts >= $2 GROUP BY currency ORDER BY COUNT(*) DESC, currency",
    )
    .bind(partner.as_str())
    .bind(since.millis())
    .fetch_all(ex)
    .await?;
    let mut count = 0;
    let mut revenue = Vec::new();
    for r in rows {
        let n = r.try_get::<i64, _>(1)?;
        count += n;
        revenue.push((r.try_get(0)?, n, r.try_get(2)?));
    }
    Ok((count, revenue))
}

/// The newest tracked event (click or conversion), for the Network heartbeat.
pub async fn last_at<'e>(ex: impl Exec<'e>) -> sqlx::Result<Option<Timestamp>> {
    let last: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(MAX(t) AS BIGINT) FROM (SELECT MAX(ts) AS t FROM clicks UNION ALL SELECT MAX(ts) AS t FROM events) x",
    )
    .fetch_one(ex)
    .await?;
    Ok(last.map(Timestamp::from_millis))
}
