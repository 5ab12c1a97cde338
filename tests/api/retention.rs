//! Secrets and rows are not kept forever: a sent (or dead) mail keeps only a redacted copy of
//! its magic link, the outbox directory's copies are redacted once expired and deleted after
//! the retention, and the daily cleanup removes what can never be used again, once per slot
//! across replicas.

use std::time::{Duration, Instant};

use openpartner::clock::Clock;
use openpartner::db;
use openpartner::jobs::cleanup;
use reqwest::Method;
use serde_json::json;
use sqlx::Row;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, free_port, spawn_app, spawn_app_with, spawn_replica};

async fn count(app: &TestApp, table: &str) -> i64 {
    sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get::<i64, _>(0)
}

/// (text, HTML) bodies of every row of the mail outbox.
async fn stored_bodies(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query("SELECT text_body, html_body FROM mail_outbox")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

async fn wait_for_mail_counts(app: &TestApp, want: (i64, i64, i64)) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while db::mail::counts(app.state.db.pool()).await.unwrap() != want {
        assert!(
            Instant::now() < deadline,
            "mail counts never became {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn a_sent_mail_keeps_no_live_token(b: Backend) {
    let app = spawn_app(b).await;
    app.create_partner("red@example.com", true).await;
    // The delivery (the outbox directory is the mailbox here) carries the link...
    let token = app.latest_token("red@example.com", 1).await;
    wait_for_mail_counts(&app, (0, 1, 0)).await;
    // ...the copy kept in the database does not.
    let bodies = stored_bodies(&app).await;
    let (text, html) = &bodies[0];
    assert!(!text.contains(&token) && !html.contains(&token));
    assert!(text.contains("/auth/magic?token=opml_[redacted]"), "{text}");
    assert!(html.contains("opml_[redacted]"), "{html}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = app.data_dir.path().join("mail");
        let file = std::fs::read_dir(dir).unwrap().next().unwrap().unwrap();
        let mode = file.metadata().unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "a mailbox only its owner reads");
    }
    let (a, _) = app.verify(&token).await;
    a.assert_status(200);

    // Once the link has expired, the cleanup redacts the delivered copy too...
    app.clock.advance(Duration::from_secs(16 * 60));
    let report = cleanup::run(&app.state).await.unwrap();
    assert_eq!(report.mail_files_redacted, 1);
    let mails = app.mails_to("red@example.com");
    assert_eq!(mails.len(), 1);
    assert!(!mails[0].raw.contains(&token));
    assert!(mails[0].raw.contains("opml_[redacted]"));
    assert_eq!(
        cleanup::run(&app.state).await.unwrap().mail_files_redacted,
        0
    );
    // ...and past the retention (30 days by default) the mail is gone, row and file.
    app.clock.advance(Duration::from_secs(29 * 86_400));
    assert_eq!(cleanup::run(&app.state).await.unwrap().rows.mail, 0);
    app.clock.advance(Duration::from_secs(86_400));
    let report = cleanup::run(&app.state).await.unwrap();
    assert_eq!(report.rows.mail, 1);
    assert_eq!(report.mail_files_deleted, 1);
    assert!(app.mails().is_empty());
    assert_eq!(count(&app, "mail_outbox").await, 0);
}

async fn a_dead_mail_keeps_no_token_and_retention_is_a_setting(b: Backend) {
    // Nothing listens on this port.
    let smtp = format!("smtp://127.0.0.1:{}", free_port());
    let app = spawn_app_with(
        b,
        &[
            ("SMTP_URL", &smtp),
            ("OPENPARTNER_MAIL_RETENTION_DAYS", "2"),
        ],
    )
    .await;
    app.create_partner("gone@example.com", true).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while count(&app, "mail_outbox WHERE attempts = 1").await != 1 {
        assert!(
            Instant::now() < deadline,
            "the first attempt was not recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        stored_bodies(&app).await[0].0.contains("token=opml_"),
        "a message still to be sent keeps its link"
    );
    assert!(!stored_bodies(&app).await[0].0.contains("[redacted]"));
    for _ in 0..8 {
        app.clock.advance(Duration::from_secs(13 * 3600));
        app.state.mailer.deliver_due().await.unwrap();
    }
    assert_eq!(
        db::mail::counts(app.state.db.pool()).await.unwrap(),
        (0, 0, 1)
    );
    let (text, html) = stored_bodies(&app).await.remove(0);
    assert!(text.contains("token=opml_[redacted]"), "{text}");
    assert!(html.contains("opml_[redacted]"), "{html}");
    assert!(openpartner::domain::tokens::redact(&text) == text);

    // OPENPARTNER_MAIL_RETENTION_DAYS=2: sent mail goes after two days.
    let sink = crate::smtp_sink::SmtpSink::start().await;
    let app = spawn_app_with(
        b,
        &[
            ("SMTP_URL", &sink.url()),
            ("OPENPARTNER_MAIL_RETENTION_DAYS", "2"),
        ],
    )
    .await;
    app.create_partner("kept@example.com", true).await;
    wait_for_mail_counts(&app, (0, 1, 0)).await;
    app.clock.advance(Duration::from_secs(86_400 + 3600));
    assert_eq!(cleanup::run(&app.state).await.unwrap().rows.mail, 0);
    app.clock.advance(Duration::from_secs(86_400));
    assert_eq!(cleanup::run(&app.state).await.unwrap().rows.mail, 1);
}

async fn the_cleanup_removes_what_can_never_be_used(b: Backend) {
    let app = spawn_app(b).await;
    // A partner who signed in: a used link, a live session.
    app.create_partner("used@example.com", true).await;
    let used = app.latest_token("used@example.com", 1).await;
    let (_, session) = app.verify(&used).await;
    let session = session.expect("a session");
    // A partner whose link is still unused.
    app.create_partner("unused@example.com", true).await;
    let unused = app.latest_token("unused@example.com", 1).await;
    // A partner who signed in and out: an ended session.
    app.create_partner("out@example.com", true).await;
    let out = app.latest_token("out@example.com", 1).await;
    let (_, ended) = app.verify(&out).await;
    app.post("/auth/signout", &ended.unwrap(), json!({}))
        .await
        .assert_status(200);
    // A console session (12 hours).
    app.call(
        Method::POST,
        "/admin/session",
        None,
        Some(json!({"key": app.admin_key})),
    )
    .await
    .assert_status(200);
    // Job slots: one from last week, one just claimed.
    let now = app.clock.now();
    assert!(
        db::jobs::claim_slot(app.state.db.pool(), "heartbeat", 1, now.plus_days(-8))
            .await
            .unwrap()
    );
    assert!(
        db::jobs::claim_slot(app.state.db.pool(), "heartbeat", 2, now)
            .await
            .unwrap()
    );

    let report = cleanup::run(&app.state).await.unwrap();
    assert_eq!(report.rows.sessions, 1, "the ended session");
    assert_eq!(report.rows.magic_links, 2, "the two used links");
    assert_eq!(report.rows.admin_sessions, 0);
    assert_eq!(report.rows.job_slots, 1);
    assert_eq!(report.rows.mail, 0);
    // What can still be used still works.
    app.get("/auth/whoami", &session).await.assert_status(200);
    let (a, unused_session) = app.verify(&unused).await;
    a.assert_status(200);

    // The console session expires after 12 hours; the link just used goes too.
    app.clock.advance(Duration::from_secs(13 * 3600));
    let report = cleanup::run(&app.state).await.unwrap();
    assert_eq!(report.rows.admin_sessions, 1);
    assert_eq!(report.rows.magic_links, 1);
    assert_eq!(report.rows.sessions, 0);
    app.get("/auth/whoami", &session).await.assert_status(200);

    // Partner sessions expire after 30 days; so does the sent mail's retention.
    app.clock.advance(Duration::from_secs(31 * 86_400));
    let report = cleanup::run(&app.state).await.unwrap();
    assert_eq!(report.rows.sessions, 2);
    assert_eq!(report.rows.mail, 3);
    assert!(unused_session.is_some());
    for table in [
        "sessions",
        "magic_links",
        "admin_sessions",
        "mail_outbox",
        "job_slots",
    ] {
        assert_eq!(count(&app, table).await, 0, "{table}");
    }
    assert_eq!(cleanup::run(&app.state).await.unwrap(), Default::default());
}

async fn one_replica_runs_each_cleanup_slot(b: Backend) {
    let app = spawn_app(b).await;
    let env: Vec<(&str, &str)> = app
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let replica = spawn_replica(b, &env).await;
    app.create_partner("slot@example.com", true).await;
    let token = app.latest_token("slot@example.com", 1).await;
    app.verify(&token).await.0.assert_status(200);
    tokio::join!(
        cleanup::scheduled(&app.state),
        cleanup::scheduled(&replica.state)
    );
    assert_eq!(count(&app, "job_slots WHERE job = 'cleanup'").await, 1);
    assert_eq!(
        count(&app, "magic_links").await,
        0,
        "the slot's run cleaned"
    );
    // The same slot again: nobody runs it.
    app.create_partner("later@example.com", true).await;
    let token = app.latest_token("later@example.com", 1).await;
    app.verify(&token).await.0.assert_status(200);
    cleanup::scheduled(&replica.state).await;
    assert_eq!(count(&app, "magic_links").await, 1);
}

both_backends!(
    a_sent_mail_keeps_no_live_token,
    a_dead_mail_keeps_no_token_and_retention_is_a_setting,
    the_cleanup_removes_what_can_never_be_used,
    one_replica_runs_each_cleanup_slot,
);
