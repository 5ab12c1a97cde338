//! The admin console: its session and CSRF rules over HTTP, and the real console driven in
//! headless Chromium (chromedriver + fantoccini) against the app and the Network simulator.
//! Screenshots of each page land in `target/screenshots/`.

mod program;
mod session;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_reachable};

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
