//! `openpartner export`, `import` and `backup`: a whole instance as JSON Lines.
//!
//! The file: a header line `{"format": "openpartner-export", "schemaVersion": N, ...}`, then
//! one line per row `{"table": "partners", "row": {"column": value, ...}}` (columns sorted by
//! name, so both backends write the same bytes), then `{"end": true, "rows": N}` so that a
//! truncated file is refused. Integers are JSON numbers, text is a string, bytes are base64
//! text, NULL is null. A name ending in `.gz` is gzip-compressed. Rows are streamed in both
//! directions: memory stays bounded whatever the size.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::Path;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value as Json};

use crate::db;
use crate::db::transfer::{Column, DERIVED, Kind, TABLES, Value};
use crate::db::{Backend, Db};

pub const FORMAT: &str = "openpartner-export";
/// A line longer than this is refused (the largest legitimate one is the logo, 2 MiB as
/// base64).
const MAX_LINE: u64 = 8 * 1024 * 1024;
/// Rows per INSERT statement, at most (and at most this many bound values).
const BATCH_ROWS: usize = 200;
const BATCH_VALUES: usize = 20_000;
/// A batch is also cut at this many bytes of text and binary values: rows of large values
/// (mail bodies, the logo) never pile up in memory.
const BATCH_BYTES: usize = 8 << 20;

fn is_gz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

fn to_json(v: Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Int(i) => Json::from(i),
        Value::Text(s) => Json::String(s),
        Value::Bytes(b) => Json::String(STANDARD.encode(b)),
    }
}

/// Streams every table of `db` into `out`. Returns the row count.
pub async fn export(db: &Db, out: &Path) -> anyhow::Result<u64> {
    let unlisted = db::transfer::unlisted_tables(db).await?;
    if !unlisted.is_empty() {
        bail!(
            "these tables are not in the export list (a bug: please report it): {}",
            unlisted.join(", ")
        );
    }
    // The file holds key hashes and instance secrets: readable by its owner only.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = options
        .open(out)
        .with_context(|| format!("cannot create {}", out.display()))?;
    // `mode` applies only to a file it creates: an existing one is narrowed before a byte lands.
    #[cfg(unix)]
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .with_context(|| format!("cannot restrict {} to its owner", out.display()))?;
    let mut sink: Box<dyn Write> = if is_gz(out) {
        Box::new(flate2::write::GzEncoder::new(
            BufWriter::new(file),
            flate2::Compression::default(),
        ))
    } else {
        Box::new(BufWriter::new(file))
    };
    // Nothing backend-specific in the header: both backends write the same bytes.
    let header = serde_json::json!({
        "format": FORMAT,
        "schemaVersion": db::transfer::schema_version(db.pool()).await?,
    });
    writeln!(sink, "{header}")?;
    let mut snapshot = db::transfer::snapshot(db).await?;
    let mut total = 0;
    for table in TABLES {
        let columns = db::transfer::columns(db, table).await?;
        let mut order: Vec<usize> = (0..columns.len()).collect();
        order.sort_by(|a, b| columns[*a].name.cmp(&columns[*b].name));
        let sink = &mut sink;
        total += snapshot
            .each_row(table, &columns, |values| {
                let mut values: Vec<Option<Value>> = values.into_iter().map(Some).collect();
                let mut row = Map::new();
                for &i in &order {
                    let v = values[i].take().unwrap_or(Value::Null);
                    row.insert(columns[i].name.clone(), to_json(v));
                }
                let line = serde_json::json!({"table": table, "row": row});
                writeln!(sink, "{line}")
            })
            .await?;
    }
    snapshot.close().await?;
    writeln!(sink, "{}", serde_json::json!({"end": true, "rows": total}))?;
    sink.flush()?;
    drop(sink);
    Ok(total)
}

/// Progress on stderr when it is a terminal.
struct Progress {
    on: bool,
    rows: u64,
}

impl Progress {
    fn tick(&mut self, table: &str) {
        self.rows += 1;
        if self.on && self.rows % 5_000 == 0 {
            eprint!("\rimported {} rows ({table})    ", self.rows);
        }
    }
    fn done(&self) {
        if self.on {
            eprintln!("\rimported {} rows            ", self.rows);
        }
    }
}

fn value_of(v: &Json, column: &Column) -> Result<Value, String> {
    match (v, column.kind) {
        (Json::Null, _) => Ok(Value::Null),
        (Json::Number(n), Kind::Int) => n
            .as_i64()
            .map(Value::Int)
            .ok_or_else(|| format!("{}: not a 64-bit integer", column.name)),
        (Json::String(s), Kind::Text) => {
            if s.contains('\0') {
                Err(format!("{}: text holds a NUL character", column.name))
            } else {
                Ok(Value::Text(s.clone()))
            }
        }
        (Json::String(s), Kind::Bytes) => STANDARD
            .decode(s)
            .map(Value::Bytes)
            .map_err(|_| format!("{}: bytes are not base64", column.name)),
        _ => Err(format!("{}: wrong type for the column", column.name)),
    }
}

/// JSON records, one per line, each at most `MAX_LINE` bytes.
struct Lines {
    reader: BufReader<Box<dyn Read>>,
    buf: Vec<u8>,
    no: u64,
}

impl Lines {
    fn next(&mut self) -> anyhow::Result<Option<Json>> {
        self.buf.clear();
        let n = self
            .reader
            .by_ref()
            .take(MAX_LINE + 1)
            .read_until(b'\n', &mut self.buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.no += 1;
        if n as u64 > MAX_LINE {
            bail!("line {}: longer than {MAX_LINE} bytes", self.no);
        }
        let value = serde_json::from_slice(&self.buf)
            .with_context(|| format!("line {}: not a JSON record", self.no))?;
        Ok(Some(value))
    }
}

/// Restores `input` into `db`, which must be empty, in one transaction.
pub async fn import(db: &Db, input: &Path) -> anyhow::Result<u64> {
    let file =
        std::fs::File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let raw: Box<dyn Read> = if is_gz(input) {
        Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(file)
    };
    let mut lines = Lines {
        reader: BufReader::new(raw),
        buf: Vec::new(),
        no: 0,
    };
    let header = lines.next()?.context("the file is empty")?;
    if header["format"] != FORMAT {
        bail!("this is not an OpenPartner export (no \"format\": \"{FORMAT}\" header)");
    }
    let version = header["schemaVersion"]
        .as_i64()
        .context("the header has no schemaVersion")?;
    let ours = db::transfer::schema_version(db.pool()).await?;
    if version > ours {
        bail!(
            "the export is from a newer schema (version {version}; this build has {ours}): \
             import it with that version of OpenPartner or newer"
        );
    }
    let busy = db::transfer::non_empty_tables(db).await?;
    if !busy.is_empty() {
        bail!(
            "the target database is not empty (rows in: {}); import only into a new, empty database",
            busy.join(", ")
        );
    }
    let mut columns: HashMap<&'static str, Vec<Column>> = HashMap::new();
    for table in TABLES {
        columns.insert(table, db::transfer::columns(db, table).await?);
    }
    let mut progress = Progress {
        on: std::io::stderr().is_terminal(),
        rows: 0,
    };
    let mut tx = db::transfer::begin_import(db).await?;
    let mut batch: Vec<Vec<Value>> = Vec::new();
    let mut batch_table: Option<&'static str> = None;
    let mut batch_columns: Vec<Column> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut last_index = 0;
    let mut ended = None;
    while let Some(record) = lines.next()? {
        let line_no = lines.no;
        if record["end"] == true {
            ended = record["rows"].as_u64();
            if lines.next()?.is_some() {
                bail!("records after the end marker");
            }
            break;
        }
        let name = record["table"].as_str().unwrap_or_default();
        let Some(index) = TABLES.iter().position(|t| *t == name) else {
            if DERIVED.contains(&name) {
                continue;
            }
            bail!(
                "line {line_no}: unknown table {:?}",
                name.chars().take(64).collect::<String>()
            );
        };
        let table = TABLES[index];
        if index < last_index {
            bail!("line {line_no}: table {table} out of order");
        }
        last_index = index;
        let cols = &columns[table];
        let Some(row) = record["row"].as_object() else {
            bail!("line {line_no}: no row object");
        };
        if let Some(unknown) = row.keys().find(|k| !cols.iter().any(|c| &c.name == *k)) {
            bail!(
                "line {line_no}: table {table} has no column {:?} in this schema",
                unknown.chars().take(64).collect::<String>()
            );
        }
        // A column the export does not carry (it is from an older schema) takes the column's
        // default, as the migration that added it gave the rows of that time.
        let present: Vec<Column> = cols
            .iter()
            .filter(|c| row.contains_key(&c.name))
            .cloned()
            .collect();
        if present.is_empty() {
            bail!("line {line_no}: table {table}: the row has no columns");
        }
        // Only an older schema may lack columns: from this one, a missing column is damage,
        // not a default to fill in.
        if version == ours && present.len() != cols.len() {
            let missing = cols.iter().find(|c| !row.contains_key(&c.name));
            bail!(
                "line {line_no}: table {table} lacks column {:?} although the export is from this schema",
                missing.map(|c| c.name.as_str()).unwrap_or_default()
            );
        }
        let values = present
            .iter()
            .map(|c| value_of(&row[&c.name], c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow::anyhow!("line {line_no}: table {table}: {e}"))?;
        let size: usize = values
            .iter()
            .map(|v| match v {
                Value::Text(t) => t.len(),
                Value::Bytes(b) => b.len(),
                Value::Null | Value::Int(_) => 8,
            })
            .sum();
        if batch_table != Some(table)
            || batch_columns != present
            || batch.len() >= BATCH_ROWS
            || (batch.len() + 1) * present.len().max(1) > BATCH_VALUES
            || batch_bytes + size > BATCH_BYTES
        {
            if let Some(t) = batch_table {
                db::transfer::insert_rows(&mut *tx, t, &batch_columns, &batch)
                    .await
                    .with_context(|| format!("inserting into {t} (before line {line_no})"))?;
            }
            batch.clear();
            batch_bytes = 0;
            batch_table = Some(table);
            batch_columns = present;
        }
        batch_bytes += size;
        batch.push(values);
        progress.tick(table);
    }
    if let Some(t) = batch_table {
        db::transfer::insert_rows(&mut *tx, t, &batch_columns, &batch)
            .await
            .with_context(|| format!("inserting into {t}"))?;
    }
    match ended {
        Some(n) if n == progress.rows => {}
        Some(n) => bail!(
            "the end marker says {n} rows but the file holds {}",
            progress.rows
        ),
        None => bail!("the file is truncated (no end marker); nothing was imported"),
    }
    if version < CLICK_DAILY_SINCE {
        // Exports from before the click rollup existed: derive it, as its migration did.
        db::transfer::rebuild_click_daily(&mut tx).await?;
    }
    db::transfer::finish_import(&mut tx).await?;
    tx.commit().await?;
    progress.done();
    Ok(progress.rows)
}

/// The schema version that brought `click_daily`, the clicks' rollup.
const CLICK_DAILY_SINCE: i64 = 17;

/// An online, consistent copy of a SQLite database (`VACUUM INTO`).
pub async fn backup(db: &Db, out: &Path) -> anyhow::Result<()> {
    if db.backend() != Backend::Sqlite {
        bail!(
            "backup copies SQLite databases; for PostgreSQL use pg_dump (see README, Operating), \
             or `openpartner export`"
        );
    }
    let path = out.to_str().context("the backup path is not UTF-8")?;
    // The copy holds key hashes and instance secrets: readable by its owner only from its first
    // byte. VACUUM INTO writes into an empty file that exists, so it is made first, owner-only,
    // and never over another file.
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(out) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} exists; choose a new file", out.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot create {}", out.display())),
    }
    if let Err(e) = db::transfer::vacuum_into(db.pool(), path).await {
        let _ = std::fs::remove_file(out);
        return Err(e.into());
    }
    Ok(())
}
