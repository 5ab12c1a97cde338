//! The brand logo lives in the database: every replica serves the one any replica stored, and a
//! logo an older version kept on disk is imported on upgrade.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Answer, Backend, TestApp, answer, spawn_app, spawn_replica};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRfake-but-starts-right";

async fn upload(app: &TestApp, content_type: &str, body: Vec<u8>) -> Answer {
    let res = app
        .client
        .post(app.url("/uploads/logo"))
        .bearer_auth(&app.admin_key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    answer(res).await
}

/// (status, content type, bytes) of `GET /uploads/logo`.
async fn logo(app: &TestApp) -> (u16, String, Vec<u8>) {
    let res = app
        .client
        .get(app.url("/uploads/logo"))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (status, content_type, res.bytes().await.unwrap().to_vec())
}

async fn every_replica_serves_the_logo(b: Backend) {
    let app = spawn_app(b).await;
    // A second instance with a disk of its own, on the same database.
    let other_disk = tempfile::tempdir().unwrap();
    let mut env = app.env.clone();
    env.insert(
        "OPENPARTNER_DATA_DIR".into(),
        other_disk.path().display().to_string(),
    );
    if b == Backend::Sqlite {
        let db = app.data_dir.path().join("openpartner.db");
        env.insert("DATABASE_URL".into(), format!("sqlite://{}", db.display()));
    }
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replica = spawn_replica(b, &env).await;
    let a = replica.call(Method::GET, "/uploads/logo", None, None).await;
    a.assert_error(404, "not_found");

    let first = upload(&app, "image/png", PNG.to_vec()).await;
    let first_url = first.assert_status(200)["logoUrl"].clone();
    assert_eq!(
        logo(&replica).await,
        (200, "image/png".to_string(), PNG.to_vec())
    );

    // The largest logo allowed, stored through the replica, is served by the first instance.
    let mut jpeg = vec![0xFF, 0xD8, 0xFF, 0xE0];
    jpeg.extend((0..2 * 1024 * 1024 - 4).map(|i| (i % 251) as u8));
    replica.clock.advance(std::time::Duration::from_secs(1));
    let second = upload(&replica, "image/jpeg", jpeg.clone()).await;
    let second_url = second.assert_status(200)["logoUrl"].clone();
    assert_ne!(second_url, first_url, "a new upload, a new versioned URL");
    assert!(second_url.as_str().unwrap().contains("/uploads/logo?v="));
    assert_eq!(logo(&app).await, (200, "image/jpeg".to_string(), jpeg));
    // The validation is unchanged: a file that is not what it says is refused.
    upload(&replica, "image/png", b"<svg onload=alert(1)>".to_vec())
        .await
        .assert_error(400, "invalid_image");
    let mut big = PNG.to_vec();
    big.resize(2 * 1024 * 1024 + 1, 0);
    upload(&app, "image/png", big)
        .await
        .assert_error(413, "payload_too_large");
    assert_eq!(logo(&replica).await.1, "image/jpeg");
    // Nothing was written to either disk.
    assert!(!app.data_dir.path().join("uploads").exists());
    assert!(!other_disk.path().join("uploads").exists());
}

async fn a_logo_kept_on_disk_is_imported_on_upgrade(b: Backend) {
    let app = spawn_app(b).await;
    // Where and how an older version kept the logo.
    let uploads = app.data_dir.path().join("uploads");
    std::fs::create_dir_all(&uploads).unwrap();
    std::fs::write(uploads.join("logo"), PNG).unwrap();
    openpartner::db::settings::set(
        app.state.db.pool(),
        "logo",
        &json!({"contentType": "image/png", "version": 42}).to_string(),
    )
    .await
    .unwrap();
    assert_eq!(logo(&app).await.0, 404, "not in the database yet");
    // An upgraded instance starts on that data directory and database.
    let env: Vec<(&str, &str)> = app
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let upgraded = spawn_replica(b, &env).await;
    std::fs::remove_file(uploads.join("logo")).unwrap();
    assert_eq!(
        logo(&app).await,
        (200, "image/png".to_string(), PNG.to_vec())
    );
    assert_eq!(logo(&upgraded).await.2, PNG.to_vec());
}

both_backends!(
    every_replica_serves_the_logo,
    a_logo_kept_on_disk_is_imported_on_upgrade,
);
