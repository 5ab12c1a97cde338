//! The admin console: its session and CSRF rules over HTTP, and the real console driven in
//! headless Chromium (chromedriver + fantoccini) against the app and the Network simulator.
//! Screenshots of each page land in `target/screenshots/`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_reachable};

async fn console_session_and_csrf(b: Backend) {
    let app = spawn_app(b).await;
    // Only an admin key opens a session.
    let scoped = app.scoped_key(&["partners:read"]).await;
    app.call(
        Method::POST,
        "/admin/session",
        None,
        Some(json!({"key": scoped})),
    )
    .await
    .assert_error(401, "unauthorized");
    app.call(
        Method::POST,
        "/admin/session",
        None,
        Some(json!({"key": "nope"})),
    )
    .await
    .assert_error(401, "unauthorized");
    let (cookie, csrf) = app.console_session().await;
    // Reads work with the cookie alone.
    let a = app
        .with_cookie(Method::GET, "/admin/session", &cookie, None, None)
        .await;
    assert_eq!(
        a.assert_status(200),
        &json!({"role": "admin", "csrfToken": csrf})
    );
    app.with_cookie(Method::GET, "/partners", &cookie, None, None)
        .await
        .assert_status(200);
    // Changes need the CSRF token.
    let body = json!({"email": "c@example.com", "name": "C", "sendInvite": false});
    app.with_cookie(Method::POST, "/partners", &cookie, None, Some(body.clone()))
        .await
        .assert_error(403, "csrf_failed");
    app.with_cookie(
        Method::POST,
        "/partners",
        &cookie,
        Some("0000"),
        Some(body.clone()),
    )
    .await
    .assert_error(403, "csrf_failed");
    app.with_cookie(Method::POST, "/partners", &cookie, Some(&csrf), Some(body))
        .await
        .assert_status(201);
    // Bearer clients are unaffected, even with a stray cookie.
    let res = app
        .client
        .post(app.url("/partners"))
        .bearer_auth(&app.admin_key)
        .header("cookie", &cookie)
        .json(&json!({"email": "d@example.com", "name": "D", "sendInvite": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // Sign-out ends the session at once.
    let a = app
        .with_cookie(
            Method::POST,
            "/admin/session/signout",
            &cookie,
            Some(&csrf),
            None,
        )
        .await;
    assert!(a.assert_status(200).get("ok").is_some());
    app.with_cookie(Method::GET, "/partners", &cookie, None, None)
        .await
        .assert_error(401, "unauthorized");
    // The pages and assets are served by the binary.
    for page in [
        "/admin/login",
        "/admin/network",
        "/admin/partners",
        "/admin/programs",
        "/admin/partners/x",
        "/admin/webhooks",
        "/admin/stripe",
    ] {
        let res = app.client.get(app.url(page)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{page}");
        assert!(
            res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        assert!(res.text().await.unwrap().contains("/admin/assets/app.js"));
    }
    let js = app
        .client
        .get(app.url("/admin/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let res = app.client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/admin/overview");
}

// ---- the browser ----

/// Headless Chromium driven through chromedriver; the webhooks page's test uses it too.
pub(crate) struct Browser {
    pub(crate) client: Client,
    driver: Child,
    shots: std::path::PathBuf,
    prefix: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub(crate) async fn start(prefix: &str) -> Browser {
        let port = crate::helpers::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/test.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().unwrap();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                         "--disable-dev-shm-usage", "--disable-component-update", "--no-first-run",
                         "--window-size=1280,1100", format!("--user-data-dir={}", profile.path().display())]
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a Chromium session");
        let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        Browser {
            client,
            driver,
            shots,
            prefix: prefix.to_string(),
            _profile: profile,
        }
    }

    pub(crate) async fn shot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(self.shots.join(format!("{}-{name}.png", self.prefix)), png).unwrap();
    }

    /// Screenshots of the page as it is, at desktop and at phone width.
    pub(crate) async fn shots(&self, name: &str) {
        self.client.set_window_size(1280, 1100).await.unwrap();
        self.shot(&format!("{name}-desktop")).await;
        self.client.set_window_size(390, 844).await.unwrap();
        self.shot(&format!("{name}-phone")).await;
        self.client.set_window_size(1280, 1100).await.unwrap();
    }

    pub(crate) async fn visible(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(e) = self.client.find(Locator::Css(css)).await {
                if e.is_displayed().await.unwrap_or(false) {
                    return e;
                }
            }
            assert!(Instant::now() < deadline, "{css} never became visible");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the element's text satisfies `want`; returns the text.
    pub(crate) async fn text_until(
        &self,
        css: &str,
        what: &str,
        want: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let text = match self.client.find(Locator::Css(css)).await {
                Ok(e) => e.text().await.unwrap_or_default(),
                Err(_) => String::new(),
            };
            if want(&text) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css}: waited for {what}, last saw {text:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the element is displayed and enabled.
    pub(crate) async fn enabled(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let e = self.visible(css).await;
            if e.is_enabled().await.unwrap_or(false) {
                return;
            }
            assert!(Instant::now() < deadline, "{css} never became enabled");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's URL satisfies `want`.
    pub(crate) async fn url_until(&self, what: &str, want: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let url = self.client.current_url().await.map(|u| u.to_string());
            if url.as_deref().is_ok_and(&want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {what}, last at {url:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn fill(&self, css: &str, value: &str) {
        let e = self.visible(css).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub(crate) async fn click(&self, css: &str) {
        self.visible(css).await.click().await.unwrap();
    }

    pub(crate) async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Opens `path` in the console, signing in on the way.
pub(crate) async fn open_signed_in(b: Backend, app: &TestApp, prefix: &str, path: &str) -> Browser {
    let browser = Browser::start(&format!("{b:?}-{prefix}").to_lowercase()).await;
    browser.client.goto(&app.url(path)).await.unwrap();
    browser.visible("#signin-form").await;
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;
    let want = app.url(path);
    browser.url_until(path, |u| u == want).await;
    browser
}

async fn admin_runs_the_program_from_the_console(b: Backend) {
    let (app, sim) = spawn_reachable(b, false).await;
    // An existing roster for the backfill.
    for i in 0..3 {
        app.create_partner(&format!("roster{i}@example.com"), false)
            .await;
    }
    let prefix = format!("{b:?}").to_lowercase();
    let browser = Browser::start(&prefix).await;
    let web = &browser.client;

    // Sign in: the console sends us to the sign-in page first.
    web.goto(&app.url("/admin/network")).await.unwrap();
    browser.visible("#signin-form").await;
    browser.shot("login").await;
    browser
        .fill("#key", "op_wrong_key_wrong_key_wrong_key_wrong_key_000000")
        .await;
    browser.click("#signin-button").await;
    browser
        .text_until("#signin-status", "a failure message", |t| {
            t.starts_with("Failed:")
        })
        .await;
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;

    // Not connected: one-click is for the hosted tier, so the email form appears.
    browser.visible("#one-click").await;
    browser.shot("network-not-connected").await;
    browser.click("#one-click").await;
    browser.visible("#start-connect-form").await;
    browser.fill("#contact-email", "ops@brand.example").await;
    browser.fill("#display-name", "Brand Co").await;
    browser.click("#send-verification").await;
    browser
        .text_until("#start-connect-status", "the email sent", |t| {
            t.contains("Verification email sent")
        })
        .await;
    browser.shot("network-email-sent").await;
    // Signed out (say, the email opened in another browser).
    web.delete_all_cookies().await.unwrap();
    // A sign-in link that would send the admin off-site afterwards lands on the console.
    web.goto(&app.url("/admin/login?next=https%3A%2F%2Fevil.example%2Fadmin%2Fnetwork"))
        .await
        .unwrap();
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;
    browser
        .url_until("the console's own page", |u| {
            u == app.url("/admin/overview")
        })
        .await;
    web.delete_all_cookies().await.unwrap();
    // The emailed link opens the completion page: it asks to sign in, then comes back.
    let link = sim.lock().verifications[0].link.clone();
    web.goto(&link).await.unwrap();
    browser.visible("#signin-needed").await;
    browser.shot("network-complete-sign-in").await;
    browser.click("#signin").await;
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;
    browser
        .url_until("back on the completion page", |u| u == link)
        .await;
    browser.enabled("#go").await;
    browser.click("#go").await;
    browser
        .text_until("#msg", "connected", |t| {
            t.starts_with("Connected as Brand Co")
        })
        .await;
    browser.shot("network-complete").await;

    // Connected panel.
    web.goto(&app.url("/admin/network")).await.unwrap();
    browser.visible("#connected").await;
    browser
        .text_until("#display", "the display name", |t| t == "Brand Co")
        .await;
    browser
        .text_until("#vendor-status", "the status", |t| t == "active")
        .await;
    app.heartbeat_idle().await;
    // Push now with a forced failure: the reason is shown inline.
    sim.inject(Fault {
        count: 100,
        path: Some("/vendors/me/heartbeat".into()),
        status: Some(500),
        body: Some("boom".into()),
        ..Default::default()
    });
    browser.click("#push-now").await;
    browser
        .text_until("#push-status", "the failure reason", |t| {
            t == "Failed: network 500: boom"
        })
        .await;
    browser.shot("network-push-failed").await;
    sim.lock().faults.clear();
    browser.click("#push-now").await;
    browser
        .text_until("#push-status", "sent", |t| t == "Sent")
        .await;

    // Auto-enroll toggle.
    browser.click("#auto-enroll").await;
    browser
        .text_until("#auto-enroll-status", "auto-enroll on", |t| {
            t == "Auto-enroll is on."
        })
        .await;
    assert_eq!(
        app.admin_get("/config/network").await.body["autoEnroll"],
        true
    );

    // Backfill, watched to the end.
    browser.click("#backfill-now").await;
    browser
        .text_until("#backfill-status", "the backfill done", |t| {
            t.starts_with("Done: 3 of 3 pushed")
        })
        .await;
    browser.shot("network-backfill-done").await;

    // A creator applies; approve from the panel (the Network federates it in).
    app.admin_post("/programs", json!({"name": "Creators", "destinationUrl": "https://shop.example.com/",
        "commission": {"type": "percent", "value": 10}, "shareOnNetwork": true, "marketplaceDescription": "Join"}))
        .await
        .assert_status(201);
    let vendor = app.admin_get("/config/network").await.body["vendorId"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.lock().vendors[&vendor].offerings.is_empty() {
        assert!(Instant::now() < deadline, "offering not published");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.apply(&vendor, None, "newcreator@example.com", "New Creator")
        .unwrap();
    web.goto(&app.url("/admin/network")).await.unwrap();
    browser
        .text_until("#requests-body", "the application", |t| {
            t.contains("New Creator")
        })
        .await;
    browser.shot("network-connected").await;
    browser.click("#requests-body button").await;
    browser
        .text_until("#requests-status", "approved", |t| {
            t.contains("approved and added as a partner")
        })
        .await;
    assert_eq!(
        app.admin_get("/partners?email=newcreator@example.com")
            .await
            .body["partners"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Partners: invite, then revoke with a reason.
    web.goto(&app.url("/admin/partners")).await.unwrap();
    browser.fill("#invite-email", "invitee@example.com").await;
    browser.fill("#invite-name", "Invitee").await;
    browser.click("#invite-button").await;
    browser
        .text_until("#invite-status", "invited", |t| {
            t.starts_with("Invited invitee@example.com")
        })
        .await;
    browser
        .text_until("#partners-body", "the new partner listed", |t| {
            t.contains("invitee@example.com")
        })
        .await;
    browser.fill("#search-email", "invitee@example.com").await;
    browser.click("#search-button").await;
    browser
        .text_until("#partners-body", "one row", |t| {
            t.contains("invitee@example.com") && !t.contains("roster0")
        })
        .await;
    browser
        .fill("#partners-body input[type=text]", "Broke the rules")
        .await;
    browser.click("#partners-body button.danger").await;
    browser
        .text_until("#partners-status", "revoked", |t| t.contains("revoked"))
        .await;
    browser.shot("partners").await;
    let p = app
        .admin_get("/partners?email=invitee@example.com")
        .await
        .body["partners"][0]
        .clone();
    assert_eq!(p["revokeReason"], "Broke the rules");
    // Its own page.
    web.goto(&app.url(&format!("/admin/partners/{}", p["id"].as_str().unwrap())))
        .await
        .unwrap();
    browser
        .text_until("#partner-details", "details", |t| {
            t.contains("invitee@example.com")
        })
        .await;
    browser.shot("partner").await;

    // Programs: create one shared on the Network.
    web.goto(&app.url("/admin/programs")).await.unwrap();
    browser.fill("#program-name", "Summer").await;
    browser
        .fill("#program-destination", "https://shop.example.com/summer")
        .await;
    browser.fill("#program-value", "12.5").await;
    browser.click("#program-share").await;
    browser
        .fill("#program-description", "Summer collection")
        .await;
    browser.click("#program-save").await;
    browser
        .text_until("#program-status", "created", |t| {
            t.starts_with("Created Summer")
        })
        .await;
    browser
        .text_until("#programs-body", "listed", |t| {
            t.contains("Summer") && t.contains("12.5 %")
        })
        .await;
    browser.shot("programs").await;

    // A phone-width layout.
    web.set_window_size(390, 844).await.unwrap();
    web.goto(&app.url("/admin/network")).await.unwrap();
    browser.visible("#connected").await;
    browser.shot("network-phone").await;
    browser.close().await;
}

both_backends!(
    console_session_and_csrf,
    admin_runs_the_program_from_the_console
);
