//! CSV for people: the streamed exports (RFC 4180, formula injection defused) and the partner
//! import with its dry run.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    exports_are_quoted_and_defused,
    partner_import_dry_run_writes_nothing,
    partner_import_is_bounded,
);

async fn csv(app: &TestApp, path: &str) -> String {
    let res = app
        .client
        .get(app.url(path))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    res.text().await.unwrap()
}

fn parse(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect()
}

async fn exports_are_quoted_and_defused(b: Backend) {
    let app = spawn_app(b).await;
    let evil = app
        .admin_post(
            "/partners",
            json!({"email": "evil@example.com", "name": "=HYPERLINK(\"http://x\",\"a, b\")", "sendInvite": false}),
        )
        .await;
    let pid = evil.assert_status(201)["id"].as_str().unwrap().to_string();
    for (email, name) in [
        ("plus@example.com", "+1 555"),
        ("at@example.com", "@SUM(A1)"),
        ("minus@example.com", "-2"),
    ] {
        app.admin_post(
            "/partners",
            json!({"email": email, "name": name, "sendInvite": false}),
        )
        .await
        .assert_status(201);
    }
    app.create_link(&pid, "csvlink", "cmp_default").await;
    let click = app.click("csvlink").await;
    app.sale("csv-1", "10.00", &click).await.assert_status(201);

    let text = csv(&app, "/export/partners.csv").await;
    assert!(text.starts_with("id,email,name,"), "{text}");
    assert!(text.contains("\r\n"));
    // RFC 4180: the quotes doubled, the cell quoted; the formula defused with a leading '.
    assert!(
        text.contains(r#""'=HYPERLINK(""http://x"",""a, b"")""#),
        "{text}"
    );
    let rows = parse(&text);
    assert_eq!(rows.len(), 5);
    let names: Vec<&str> = rows[1..].iter().map(|r| r[2].as_str()).collect();
    for want in [
        "'+1 555",
        "'@SUM(A1)",
        "'-2",
        "'=HYPERLINK(\"http://x\",\"a, b\")",
    ] {
        assert!(names.contains(&want), "{want} not in {names:?}");
    }

    let commissions = parse(&csv(&app, "/export/commissions.csv").await);
    assert_eq!(commissions[0][0], "id");
    assert_eq!(commissions.len(), 2);
    assert_eq!(commissions[1][1], pid);
    assert_eq!(commissions[1][7], "accrued");
    let approved = parse(&csv(&app, "/export/commissions.csv?status=approved").await);
    assert_eq!(approved.len(), 1, "only the header");
    let later = parse(&csv(&app, "/export/commissions.csv?since=2999-01-01T00:00:00Z").await);
    assert_eq!(later.len(), 1);
    let conversions = parse(&csv(&app, "/export/conversions.csv").await);
    assert_eq!(conversions.len(), 2);
    assert_eq!(conversions[1][1], "csv-1");
    assert_eq!(conversions[1][10], "true");

    app.admin_get("/export/commissions.csv?status=lost")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/export/conversions.csv?since=last-week")
        .await
        .assert_error(400, "invalid_query");
    let scoped = app.scoped_key(&["partners:read", "commissions:read"]).await;
    for path in [
        "/export/partners.csv",
        "/export/commissions.csv",
        "/export/conversions.csv",
    ] {
        app.get(path, &scoped).await.assert_error(403, "forbidden");
    }
}

async fn import(app: &TestApp, query: &str, body: &str) -> crate::helpers::Answer {
    let res = app
        .client
        .request(Method::POST, app.url(&format!("/import/partners{query}")))
        .bearer_auth(&app.admin_key)
        .header("content-type", "text/csv")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    crate::helpers::answer(res).await
}

async fn partner_count(app: &TestApp) -> usize {
    app.admin_get("/partners?limit=200")
        .await
        .assert_status(200)["partners"]
        .as_array()
        .unwrap()
        .len()
}

async fn partner_import_dry_run_writes_nothing(b: Backend) {
    let app = spawn_app(b).await;
    app.create_partner("already@example.com", false).await;
    let body = "email,name,programIds,sendInvite\r\n\
        new@example.com,New One,cmp_default,false\r\n\
        already@example.com,Again,,false\r\n\
        not-an-email,Broken,,false\r\n\
        new@example.com,Twice,,false\r\n\
        other@example.com,Other,no_such_program,false\r\n\
        \"quoted@example.com\",\"Quoted, Name\",,yes\r\n\
        bad-flag@example.com,Flag,,maybe\r\n";
    let before = partner_count(&app).await;
    let dry = import(&app, "?dryRun=true", body).await;
    let results = dry.assert_status(200)["results"]
        .as_array()
        .unwrap()
        .clone();
    let statuses: Vec<(u64, &str, &str)> = results
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["email"].as_str().unwrap(),
                r["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        vec![
            (1, "new@example.com", "created"),
            (2, "already@example.com", "exists"),
            (3, "not-an-email", "invalid"),
            (4, "new@example.com", "exists"),
            (5, "other@example.com", "invalid"),
            (6, "quoted@example.com", "created"),
            (7, "bad-flag@example.com", "invalid"),
        ]
    );
    assert!(results[2]["reason"].as_str().is_some());
    assert!(results[0].get("reason").is_none());
    assert_eq!(
        partner_count(&app).await,
        before,
        "a dry run wrote something"
    );

    // For real: the same answer, and the partners exist.
    let real = import(&app, "", body).await;
    assert_eq!(real.assert_status(200)["results"], Value::Array(results));
    assert_eq!(partner_count(&app).await, before + 2);
    let id = app.partner_id_by_email("quoted@example.com").await;
    let p = app.admin_get(&format!("/partners/{id}")).await;
    assert_eq!(p.assert_status(200)["name"], "Quoted, Name");
    // Each creation is in the audit log.
    let log = app.admin_get(&format!("/audit-log?targetId={id}")).await;
    assert_eq!(
        log.assert_status(200)["entries"][0]["action"],
        "partner.create"
    );
}

async fn partner_import_is_bounded(b: Backend) {
    let app = spawn_app(b).await;
    let scoped = app.scoped_key(&["partners:write"]).await;
    let res = app
        .client
        .post(app.url("/import/partners"))
        .bearer_auth(&scoped)
        .body("email,name\n")
        .send()
        .await
        .unwrap();
    crate::helpers::answer(res)
        .await
        .assert_error(403, "forbidden");
    import(&app, "", "nothing,useful\nx,y\n")
        .await
        .assert_error(400, "invalid_csv");
    import(&app, "?dryRun=perhaps", "email,name\n")
        .await
        .assert_error(400, "invalid_query");
    let mut many = String::from("email,name\n");
    for i in 0..5_001 {
        many.push_str(&format!("p{i}@example.com,P\n"));
    }
    import(&app, "?dryRun=true", &many)
        .await
        .assert_error(400, "too_many_rows");
    let huge = format!("email,name\n{}\n", "a".repeat(2 * 1024 * 1024));
    let a = import(&app, "?dryRun=true", &huge).await;
    assert_eq!(a.status, 413, "{}", a.text);
    import(&app, "", "email,name\n\"a\0b@example.com\",Nul\n")
        .await
        .assert_status(200);
}
