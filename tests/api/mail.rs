//! Mail delivery: over real SMTP (an in-process sink), and durably: a failed send never fails
//! the request, and the retry job delivers it later.

use std::time::{Duration, Instant};

use openpartner::db;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, magic_token, spawn_app_with};
use crate::smtp_sink::SmtpSink;

async fn invites_go_out_over_smtp(b: Backend) {
    let sink = SmtpSink::start().await;
    let app = spawn_app_with(
        b,
        &[
            ("SMTP_URL", &sink.url()),
            ("MAIL_FROM", "Brand <partners@brand.example>"),
            ("OPENPARTNER_BRAND_NAME", "Brandy"),
        ],
    )
    .await;
    app.create_partner("smtp@example.com", true).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.count() < 1 {
        assert!(
            Instant::now() < deadline,
            "no message reached the SMTP server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let msg = sink.messages.lock().unwrap()[0].clone();
    assert!(msg.contains("To: smtp@example.com"));
    assert!(msg.contains("From: Brand <partners@brand.example>"));
    assert!(msg.contains("Brandy"), "templates name the brand");
    let token = magic_token(&msg).expect("a magic link");
    let (a, _) = app.verify(&token).await;
    a.assert_status(200);
    assert!(
        app.mails().is_empty(),
        "nothing in the file outbox when SMTP is configured"
    );
}

async fn a_failed_send_is_retried_from_the_outbox(b: Backend) {
    let sink = SmtpSink::start().await;
    sink.fail_next(1);
    let app = spawn_app_with(b, &[("SMTP_URL", &sink.url())]).await;
    // The API call succeeds although the first delivery attempt fails.
    let p = app.create_partner("retry@example.com", true).await;
    assert_eq!(p["invited"], true);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (pending, sent, _) = db::mail::counts(app.state.db.pool()).await.unwrap();
        // The failed attempt is recorded, with a retry scheduled.
        if pending == 1 && sent == 0 {
            let row: (i64, Option<String>) = {
                use sqlx::Row;
                let r = sqlx::query("SELECT attempts, last_error FROM mail_outbox")
                    .fetch_one(app.state.db.pool())
                    .await
                    .unwrap();
                (r.get(0), r.get(1))
            };
            if row.0 == 1 {
                assert!(row.1.unwrap().contains("451"));
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the failed attempt was not recorded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sink.count(), 0);
    // Not due yet: the job leaves it alone.
    assert_eq!(app.state.mailer.deliver_due().await.unwrap(), 0);
    app.clock.advance(Duration::from_secs(31));
    assert_eq!(app.state.mailer.deliver_due().await.unwrap(), 1);
    assert_eq!(sink.count(), 1);
    assert_eq!(
        db::mail::counts(app.state.db.pool()).await.unwrap(),
        (0, 1, 0)
    );
}

async fn mail_to_an_unreachable_server_dies_after_the_last_backoff(b: Backend) {
    // Nothing listens on this port.
    let port = crate::helpers::free_port();
    let app = spawn_app_with(b, &[("SMTP_URL", &format!("smtp://127.0.0.1:{port}"))]).await;
    let a = app
        .admin_post(
            "/partners",
            json!({"email": "dead@example.com", "name": "D"}),
        )
        .await;
    a.assert_status(201);
    let deadline = Instant::now() + Duration::from_secs(10);
    while db::mail::counts(app.state.db.pool()).await.unwrap() != (1, 0, 0)
        || sqlx_attempts(&app).await < 1
    {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // 8 retries on the schedule, then dead.
    for _ in 0..8 {
        app.clock.advance(Duration::from_secs(13 * 3600));
        app.state.mailer.deliver_due().await.unwrap();
    }
    assert_eq!(
        db::mail::counts(app.state.db.pool()).await.unwrap(),
        (0, 0, 1)
    );
    assert_eq!(sqlx_attempts(&app).await, 9);
}

async fn sqlx_attempts(app: &crate::helpers::TestApp) -> i64 {
    use sqlx::Row;
    sqlx::query("SELECT attempts FROM mail_outbox")
        .fetch_one(app.state.db.pool())
        .await
        .map(|r| r.get::<i64, _>(0))
        .unwrap_or(0)
}

both_backends!(
    invites_go_out_over_smtp,
    a_failed_send_is_retried_from_the_outbox,
    mail_to_an_unreachable_server_dies_after_the_last_backoff,
);
