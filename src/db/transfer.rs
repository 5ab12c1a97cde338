//! Whole-instance export and import: every table, read from one consistent snapshot and
//! written back into an empty database of either backend. Values travel as three kinds that
//! both backends store identically: integers (timestamps are epoch milliseconds, booleans
//! 0/1), text (JSON documents are text) and bytes. Column names in SQL come from the target's
//! own catalog, never from the file.

use futures_util::TryStreamExt;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Backend, Db, Exec, Tx, backend_of};

/// Every table, parents before children (foreign keys are checked as rows go in).
pub const TABLES: &[&str] = &[
    "settings",
    "programs",
    "partners",
    "api_keys",
    "admin_sessions",
    "sessions",
    "magic_links",
    "links",
    "clicks",
    "click_dead_letters",
    "click_daily",
    "events",
    "commissions",
    "commission_firsts",
    "commission_reversals",
    "partner_commissions",
    "clawbacks",
    "payouts",
    "payout_items",
    "payout_clawbacks",
    "mail_outbox",
    "network_connection",
    "network_outbox",
    "backfill_runs",
    "job_slots",
    "brand_logo",
    "stripe_events",
    "stripe_sales",
    "stripe_event_waits",
    "webhook_endpoints",
    "webhook_events",
    "webhook_subscriptions",
    "webhook_deliveries",
    "audit_log",
];

/// Tables not exported because they are derived from others (triggers keep them).
pub const DERIVED: &[&str] = &["partner_counts"];

/// Rows that migrations seed, and that an import replaces.
const SEEDED: &[&str] = &["settings", "programs", "network_connection", "job_slots"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Text,
    Bytes,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
}

/// One value as it travels.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

fn kind_of(declared: &str) -> Kind {
    let t = declared.to_ascii_uppercase();
    if t.contains("INT") {
        Kind::Int
    } else if t.contains("BLOB") || t.contains("BYTEA") {
        Kind::Bytes
    } else {
        Kind::Text
    }
}

fn read(row: &AnyRow, i: usize, kind: Kind) -> sqlx::Result<Value> {
    Ok(match kind {
        Kind::Int => row
            .try_get::<Option<i64>, _>(i)?
            .map_or(Value::Null, Value::Int),
        Kind::Text => row
            .try_get::<Option<String>, _>(i)?
            .map_or(Value::Null, Value::Text),
        Kind::Bytes => row
            .try_get::<Option<Vec<u8>>, _>(i)?
            .map_or(Value::Null, Value::Bytes),
    })
}

/// A read-only snapshot of the whole database.
pub struct Snapshot {
    tx: Tx,
    backend: Backend,
}

/// The schema version: the newest migration applied.
pub async fn schema_version<'e>(ex: impl Exec<'e>) -> sqlx::Result<i64> {
    let row = sqlx::query("SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) FROM _sqlx_migrations")
        .fetch_one(ex)
        .await?;
    row.try_get(0)
}

/// Tables in the schema (not sqlx's own).
pub async fn schema_tables(db: &Db) -> sqlx::Result<Vec<String>> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name <> '_sqlx_migrations' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
             AND table_name <> '_sqlx_migrations' ORDER BY table_name"
        }
    };
    sqlx::query_scalar(sql).fetch_all(db.pool()).await
}

/// Tables in the schema that neither [`TABLES`] nor [`DERIVED`] names: an export would
/// miss them.
pub async fn unlisted_tables(db: &Db) -> sqlx::Result<Vec<String>> {
    Ok(schema_tables(db)
        .await?
        .into_iter()
        .filter(|t| !TABLES.contains(&t.as_str()) && !DERIVED.contains(&t.as_str()))
        .collect())
}

/// A table's columns in the target's order.
pub async fn columns(db: &Db, table: &str) -> sqlx::Result<Vec<Column>> {
    let rows = match db.backend() {
        Backend::Sqlite => {
            sqlx::query("SELECT name, type FROM pragma_table_info($1) ORDER BY cid")
                .bind(table)
                .fetch_all(db.pool())
                .await?
        }
        Backend::Postgres => {
            sqlx::query(
                "SELECT CAST(column_name AS TEXT), CAST(data_type AS TEXT) \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(db.pool())
            .await?
        }
    };
    rows.iter()
        .map(|r| {
            Ok(Column {
                name: r.try_get(0)?,
                kind: kind_of(&r.try_get::<String, _>(1)?),
            })
        })
        .collect()
}

/// Opens one consistent, read-only snapshot: a REPEATABLE READ transaction on
/// PostgreSQL, one read transaction on SQLite (WAL keeps it stable while writers go on).
pub async fn snapshot(db: &Db) -> sqlx::Result<Snapshot> {
    let tx = match db.backend() {
        Backend::Sqlite => db.pool().begin().await?,
        Backend::Postgres => {
            db.pool()
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?
        }
    };
    Ok(Snapshot {
        tx,
        backend: db.backend(),
    })
}

/// Tables (other than the ones migrations seed) that hold rows, and seeded tables holding
/// more than their seed: an import refuses such a database.
pub async fn non_empty_tables(db: &Db) -> sqlx::Result<Vec<String>> {
    let mut found = Vec::new();
    for table in TABLES {
        let sql = match *table {
            "programs" => "SELECT 1 FROM programs WHERE id <> 'cmp_default' LIMIT 1".to_string(),
            "network_connection" => {
                "SELECT 1 FROM network_connection WHERE vendor_id IS NOT NULL LIMIT 1".to_string()
            }
            "settings" | "job_slots" => continue,
            t => format!("SELECT 1 FROM {t} LIMIT 1"),
        };
        if sqlx::query(&sql).fetch_optional(db.pool()).await?.is_some() {
            found.push((*table).to_string());
        }
    }
    Ok(found)
}

/// Starts an import: one write transaction, with the migrations' seed rows removed.
pub async fn begin_import(db: &Db) -> sqlx::Result<Tx> {
    let mut tx = db.begin().await?;
    for table in SEEDED.iter().rev() {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    Ok(tx)
}

/// Inserts rows (each in `columns`' order) in one statement.
pub async fn insert_rows<'e>(
    ex: impl Exec<'e>,
    table: &str,
    columns: &[Column],
    rows: &[Vec<Value>],
) -> sqlx::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let names = columns
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect::<Vec<_>>()
        .join(", ");
    let mut n = 0;
    let tuples = rows
        .iter()
        .map(|_| {
            let marks = columns
                .iter()
                .map(|_| {
                    n += 1;
                    format!("${n}")
                })
                .collect::<Vec<_>>()
                .join(", ");
            format!("({marks})")
        })
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!("INSERT INTO {table} ({names}) VALUES {tuples}");
    let mut q = sqlx::query(&sql);
    for row in rows {
        for (value, column) in row.iter().zip(columns) {
            // A NULL is bound with the column's type: PostgreSQL refuses a mistyped one.
            q = match (value, column.kind) {
                (Value::Null, Kind::Int) => q.bind(None::<i64>),
                (Value::Null, Kind::Text) => q.bind(None::<String>),
                (Value::Null, Kind::Bytes) => q.bind(None::<Vec<u8>>),
                (Value::Int(i), _) => q.bind(*i),
                (Value::Text(s), _) => q.bind(s.clone()),
                (Value::Bytes(b), _) => q.bind(b.clone()),
            };
        }
    }
    q.execute(ex).await?;
    Ok(())
}

/// `VACUUM INTO`: a consistent copy of a SQLite database taken while it serves.
pub async fn vacuum_into<'e>(ex: impl Exec<'e>, path: &str) -> sqlx::Result<()> {
    sqlx::query("VACUUM INTO $1").bind(path).execute(ex).await?;
    Ok(())
}

/// Derives the clicks' daily rollup from the clicks (as migration 0017 first did).
pub async fn rebuild_click_daily(tx: &mut Tx) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM click_daily")
        .execute(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO click_daily (day, partner_id, program_id, clicks) \
         SELECT ts / 86400000, partner_id, program_id, COUNT(*) FROM clicks \
         GROUP BY ts / 86400000, partner_id, program_id",
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// After an import on PostgreSQL, serial counters continue after the imported rows.
pub async fn finish_import(tx: &mut Tx) -> sqlx::Result<()> {
    if backend_of(tx) != Backend::Postgres {
        return Ok(());
    }
    let serials = sqlx::query(
        "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns \
         WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'",
    )
    .fetch_all(&mut **tx)
    .await?;
    for r in serials {
        let (table, column): (String, String) = (r.try_get(0)?, r.try_get(1)?);
        if !TABLES.contains(&table.as_str()) {
            continue;
        }
        sqlx::query(&format!(
            "SELECT CAST(setval(pg_get_serial_sequence('{table}', '{column}'), \
             COALESCE(MAX(\"{column}\"), 1), MAX(\"{column}\") IS NOT NULL) AS BIGINT) FROM {table}"
        ))
        .fetch_one(&mut **tx)
        .await?;
    }
    Ok(())
}

impl Snapshot {
    /// Streams a table's rows in a stable order (every column, text compared bytewise on both
    /// backends), calling `each` with the values in `columns`' order.
    pub async fn each_row(
        &mut self,
        table: &str,
        columns: &[Column],
        mut each: impl FnMut(Vec<Value>) -> std::io::Result<()>,
    ) -> anyhow::Result<u64> {
        let select = columns
            .iter()
            .map(|c| format!("\"{}\"", c.name))
            .collect::<Vec<_>>()
            .join(", ");
        let order = columns
            .iter()
            .map(|c| match (self.backend, c.kind) {
                (Backend::Postgres, Kind::Text) => format!("\"{}\" COLLATE \"C\"", c.name),
                _ => format!("\"{}\"", c.name),
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!("SELECT {select} FROM {table} ORDER BY {order}");
        let mut rows = sqlx::query(&sql).fetch(&mut *self.tx);
        let mut count = 0;
        while let Some(row) = rows.try_next().await? {
            let values = columns
                .iter()
                .enumerate()
                .map(|(i, c)| read(&row, i, c.kind))
                .collect::<sqlx::Result<Vec<_>>>()?;
            each(values)?;
            count += 1;
        }
        Ok(count)
    }

    pub async fn close(self) -> sqlx::Result<()> {
        self.tx.rollback().await
    }
}
