//! `openpartner export`, `import` and `backup` as an operator runs them: a whole instance
//! moves SQLite → PostgreSQL → SQLite (and back the other way) with identical answers and
//! identical exports.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use openpartner::db;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    Backend, ENCRYPTION_KEY, SIM_ADMIN_KEY, TestApp, create_pg_database, spawn_app, spawn_app_with,
    spawn_with_network,
};

both_backends!(
    every_table_is_in_the_export_list,
    round_trip_through_the_other_backend,
    import_refuses_a_non_empty_database_and_bad_files,
    an_older_export_gets_defaults_and_a_rebuilt_rollup,
);

fn bin(db_url: &str, data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_openpartner"));
    for var in ["ADMIN_API_KEY", "OPENPARTNER_CONFIG", "SMTP_URL"] {
        cmd.env_remove(var);
    }
    cmd.env("DATABASE_URL", db_url)
        .env("OPENPARTNER_DATA_DIR", data_dir)
        .env("OPENPARTNER_LOG", "warn");
    cmd
}

fn mode(path: &Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions()) & 0o777
}

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd.output().expect("binary runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// An empty database of `b`'s kind: its URL.
async fn empty_database(b: Backend, dir: &Path, name: &str) -> String {
    match b {
        Backend::Sqlite => format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
        Backend::Postgres => create_pg_database().await.2,
    }
}

fn db_url(app: &TestApp) -> String {
    app.env.get("DATABASE_URL").cloned().unwrap_or_else(|| {
        format!(
            "sqlite://{}",
            app.data_dir.path().join("openpartner.db").display()
        )
    })
}

fn read_gz(path: &Path) -> String {
    let mut text = String::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    text
}

fn other(b: Backend) -> Backend {
    match b {
        Backend::Sqlite => Backend::Postgres,
        Backend::Postgres => Backend::Sqlite,
    }
}

async fn every_table_is_in_the_export_list(b: Backend) {
    let app = spawn_app(b).await;
    let unlisted = db::transfer::unlisted_tables(&app.state.db).await.unwrap();
    assert!(
        unlisted.is_empty(),
        "add these tables to db::transfer::TABLES (or DERIVED): {unlisted:?}"
    );
}

/// What an operator would compare: the API's answers about the money and the connection.
async fn answers(app: &TestApp, key: &str, partner: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for path in [
        "/partners?limit=100".to_string(),
        format!("/partners/{partner}"),
        format!("/partners/{partner}/links"),
        "/commissions?limit=100".to_string(),
        "/payouts".to_string(),
        "/config/network".to_string(),
        "/audit-log?limit=200".to_string(),
    ] {
        let a = app.get(&path, key).await;
        assert_eq!(a.status, 200, "{path}: {}", a.text);
        out.push(json!({"path": path, "body": a.body}));
    }
    out
}

async fn round_trip_through_the_other_backend(b: Backend) {
    let (app, _sim) = spawn_with_network(b, true, &[]).await;
    app.connect_hosted().await;
    let key = app.admin_key.clone();
    let partner = app.create_partner("moving@example.com", false).await;
    let pid = partner["id"].as_str().unwrap().to_string();
    app.create_partner("second@example.com", false).await;
    app.create_link(&pid, "movelink", "cmp_default").await;
    let click = app.click("movelink").await;
    let sale = app.sale("rt-1", "12.34", &click).await;
    let cid = sale.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/commissions/{cid}/approve"), json!({}))
        .await
        .assert_status(200);
    app.admin_post("/payouts/run", json!({}))
        .await
        .assert_status(201);
    let click2 = app.click("movelink").await;
    app.sale("rt-2", "5.00", &click2).await.assert_status(201);
    let before = answers(&app, &key, &pid).await;

    let dir = tempfile::tempdir().unwrap();
    // 1: the original, exported while it serves.
    let first = dir.path().join("first.jsonl.gz");
    let (ok, out) = run(bin(&db_url(&app), dir.path())
        .args(["export", "--out"])
        .arg(&first));
    assert!(ok, "{out}");

    // 2: into an empty database of the other backend, and out again.
    let middle_url = empty_database(other(b), dir.path(), "middle").await;
    let (ok, out) = run(bin(&middle_url, dir.path())
        .args(["import", "--in"])
        .arg(&first));
    assert!(ok, "{out}");
    let second = dir.path().join("second.jsonl");
    let (ok, out) = run(bin(&middle_url, dir.path())
        .args(["export", "--out"])
        .arg(&second));
    assert!(ok, "{out}");

    // 3: back into an empty database of the first backend.
    let last_url = empty_database(b, dir.path(), "last").await;
    let (ok, out) = run(bin(&last_url, dir.path())
        .args(["import", "--in"])
        .arg(&second));
    assert!(ok, "{out}");
    let third = dir.path().join("third.jsonl.gz");
    let (ok, out) = run(bin(&last_url, dir.path())
        .args(["export", "--out"])
        .arg(&third));
    assert!(ok, "{out}");

    let first_text = read_gz(&first);
    let second_text = std::fs::read_to_string(&second).unwrap();
    assert!(first_text.lines().count() > 10);
    assert!(first_text.starts_with("{\"format\":\"openpartner-export\""));
    assert_eq!(
        first_text, second_text,
        "the export changed crossing backends"
    );
    assert_eq!(
        first_text,
        read_gz(&third),
        "the export changed on the way back"
    );

    // Identical answers from both copies, with the same admin key (its hash moved as is) and
    // the same encryption key (the vendor token ciphertext moved as is).
    let sim_url = app.env["NETWORK_URL"].clone();
    let env = |url: &str| {
        vec![
            ("DATABASE_URL".to_string(), url.to_string()),
            ("NETWORK_URL".to_string(), sim_url.clone()),
            (
                "SECRETS_ENCRYPTION_KEY".to_string(),
                ENCRYPTION_KEY.to_string(),
            ),
            // The tier comes from the configuration, not the data: the same hosted setup.
            (
                "NETWORK_ADMIN_API_KEY".to_string(),
                SIM_ADMIN_KEY.to_string(),
            ),
        ]
    };
    for (backend, url) in [(other(b), middle_url), (b, last_url)] {
        let vars = env(&url);
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let copy = spawn_app_with(backend, &vars).await;
        let after = answers(&copy, &key, &pid).await;
        for (x, y) in before.iter().zip(&after) {
            if x["path"] == "/audit-log?limit=200" {
                // The copy's start-up minted its own test key: one entry more, the rest equal.
                let old = x["body"]["entries"].as_array().unwrap();
                let new = y["body"]["entries"].as_array().unwrap();
                assert!(new.ends_with(old), "audit log differs");
                continue;
            }
            assert_eq!(x, y, "a different answer after the move");
        }
    }
}

async fn import_refuses_a_non_empty_database_and_bad_files(b: Backend) {
    let app = spawn_app(b).await;
    app.create_partner("busy@example.com", false).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let (ok, out) = run(bin(&db_url(&app), dir.path())
        .args(["export", "--out"])
        .arg(&file));
    assert!(ok, "{out}");

    assert_eq!(mode(&file), 0o600);
    // Over an existing, world-readable file: narrowed to its owner too.
    let shared = dir.path().join("shared.jsonl");
    std::fs::write(&shared, "old").unwrap();
    std::fs::set_permissions(&shared, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let (ok, out) = run(bin(&db_url(&app), dir.path())
        .args(["export", "--out"])
        .arg(&shared));
    assert!(ok, "{out}");
    assert_eq!(mode(&shared), 0o600);

    // Not into a database that holds data.
    let (ok, out) = run(bin(&db_url(&app), dir.path())
        .args(["import", "--in"])
        .arg(&file));
    assert!(!ok);
    assert!(out.contains("not empty"), "{out}");

    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let import = |name: &str, content: String| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("{name}.db")).display()
        );
        run(bin(&url, dir.path()).args(["import", "--in"]).arg(&path))
    };
    // A newer schema.
    let header: Value = serde_json::from_str(lines[0]).unwrap();
    let newer = json!({"format": "openpartner-export", "schemaVersion": header["schemaVersion"].as_i64().unwrap() + 1});
    let (ok, out) = import("newer", format!("{newer}\n{}", lines[1..].join("\n")));
    assert!(!ok);
    assert!(out.contains("newer schema"), "{out}");
    // A truncated file: nothing is imported.
    let (ok, out) = import("truncated", lines[..lines.len() - 1].join("\n"));
    assert!(!ok);
    assert!(out.contains("truncated"), "{out}");
    // Hostile names never reach SQL.
    let evil = json!({"table": "partners; DROP TABLE partners", "row": {}}).to_string();
    lines.insert(1, &evil);
    let (ok, out) = import("evil_table", lines.join("\n"));
    assert!(!ok);
    assert!(out.contains("unknown table"), "{out}");
    lines.remove(1);
    let evil = json!({"table": "settings", "row": {"key\" TEXT); --": "x"}}).to_string();
    lines.insert(1, &evil);
    let (ok, out) = import("evil_column", lines.join("\n"));
    assert!(!ok);
    assert!(out.contains("has no column"), "{out}");
    lines.remove(1);
    // From this schema, a row that lacks a column is damage, not an older export.
    let damaged: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut r: Value = serde_json::from_str(l).unwrap();
            if r["table"] == "partners" {
                r["row"].as_object_mut().unwrap().remove("revoked_at");
            }
            r.to_string()
        })
        .collect();
    let (ok, out) = import("damaged", damaged.join("\n"));
    assert!(!ok);
    assert!(out.contains("lacks column \"revoked_at\""), "{out}");
    let (ok, out) = import("garbage", "not json at all\n".into());
    assert!(!ok);
    assert!(
        out.contains("not an OpenPartner export") || out.contains("not a JSON record"),
        "{out}"
    );

    // backup: VACUUM INTO on SQLite, a pointer to pg_dump on PostgreSQL.
    let copy = dir.path().join("backup.db");
    let (ok, out) = run(bin(&db_url(&app), dir.path())
        .args(["backup", "--out"])
        .arg(&copy));
    match b {
        Backend::Sqlite => {
            assert!(ok, "{out}");
            assert_eq!(mode(&copy), 0o600, "the backup is its owner's only");
            // Never over another file.
            let (ok, out) = run(bin(&db_url(&app), dir.path())
                .args(["backup", "--out"])
                .arg(&copy));
            assert!(!ok);
            assert!(out.contains("exists"), "{out}");
            let restored = format!("sqlite://{}", copy.display());
            let again = dir.path().join("from-backup.jsonl");
            let (ok, out) = run(bin(&restored, dir.path())
                .args(["export", "--out"])
                .arg(&again));
            assert!(ok, "{out}");
            assert_eq!(std::fs::read_to_string(&again).unwrap(), text);
        }
        Backend::Postgres => {
            assert!(!ok);
            assert!(out.contains("pg_dump"), "{out}");
        }
    }
}

/// An export from before a column or the click rollup existed: missing columns take their
/// defaults (never NULL), and the rollup is derived from the clicks.
async fn an_older_export_gets_defaults_and_a_rebuilt_rollup(b: Backend) {
    let app = spawn_app(b).await;
    let partner = app.create_partner("older@example.com", false).await;
    let pid = partner["id"].as_str().unwrap().to_string();
    app.create_link(&pid, "oldlink", "cmp_default").await;
    app.click("oldlink").await;
    let click = app.click("oldlink").await;
    app.sale("old-1", "10.00", &click).await.assert_status(201);
    let clicks_of = |a: &Value| -> i64 {
        a["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["clicks"].as_i64().unwrap())
            .sum()
    };
    let before = app.admin_get(&format!("/partners/{pid}/timeseries")).await;
    assert_eq!(clicks_of(before.assert_status(200)), 2);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.jsonl");
    let (ok, out) = run(bin(&db_url(&app), dir.path())
        .args(["export", "--out"])
        .arg(&file));
    assert!(ok, "{out}");
    // Make it look like schema 16: no click_daily, no commissions.reversed_minor.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut lines = Vec::new();
    let mut rows = 0;
    for (i, line) in text.lines().enumerate() {
        let mut record: Value = serde_json::from_str(line).unwrap();
        if i == 0 {
            record["schemaVersion"] = json!(16);
        } else if record["table"] == "click_daily" {
            continue;
        } else if record["table"] == "commissions" {
            record["row"]
                .as_object_mut()
                .unwrap()
                .remove("reversed_minor")
                .expect("the column is exported");
        }
        if record["end"] == true {
            record["rows"] = json!(rows);
        } else if i > 0 {
            rows += 1;
        }
        lines.push(record.to_string());
    }
    let older = dir.path().join("older.jsonl");
    std::fs::write(&older, lines.join("\n")).unwrap();
    let url = empty_database(b, dir.path(), "older").await;
    let (ok, out) = run(bin(&url, dir.path()).args(["import", "--in"]).arg(&older));
    assert!(ok, "{out}");

    let copy = spawn_app_with(b, &[("DATABASE_URL", url.as_str())]).await;
    let after = copy
        .get(&format!("/partners/{pid}/timeseries"), &app.admin_key)
        .await;
    assert_eq!(
        clicks_of(after.assert_status(200)),
        2,
        "the rollup was rebuilt"
    );
    let list = copy.get("/commissions", &app.admin_key).await;
    let c = &list.assert_status(200)["commissions"][0];
    assert_eq!(
        (c["amount"].as_str(), c["reversedAmount"].as_str()),
        (Some("1.00"), Some("0.00"))
    );
}
