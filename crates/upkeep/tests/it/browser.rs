//! The pages in a real headless Chromium, driven over WebDriver (chromedriver's HTTP API): first-run
//! setup, creating a service through a form, signing out and a refused sign-in, as a person would.
//! Runs when `chromedriver` is installed (`.ci/run` installs it; in CI its absence is a failure).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::databases::{TestDb, backend_tests};
use crate::support::server::TestServer;

backend_tests!(a_person_sets_up_upkeep_in_a_browser);

/// The W3C WebDriver key under which an element reference is returned.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one headless browser session on it.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// `None` (after saying why) when chromedriver is not installed outside CI.
    async fn start() -> Option<Self> {
        let installed = Command::new("chromedriver")
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success());
        if !installed {
            assert!(
                std::env::var_os("CI").is_none(),
                "chromedriver is missing but CI is set: .ci/run must install chromium-driver"
            );
            println!(
                "skipped: chromedriver is not installed (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        loop {
            if let Ok(response) = http.get(format!("{base}/status")).send().await {
                let status: Value = response.json().await.unwrap_or(Value::Null);
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let args = [
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--no-first-run".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}}}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&capabilities)
            .send()
            .await
            .expect("new session")
            .json()
            .await
            .expect("json");
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_string();
        Some(Self {
            driver,
            base,
            session,
            http,
            _profile: profile,
        })
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut request = self.http.request(method.clone(), url);
        if method != reqwest::Method::GET {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("webdriver")
            .json()
            .await
            .expect("json");
        assert!(
            answer["value"]["error"].is_null(),
            "webdriver {path}: {answer}"
        );
        answer["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let element = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await;
    }

    async fn url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// Wait (bounded) until the page's URL satisfies `wanted`: a click only starts a navigation.
    async fn wait_for_url(&self, wanted: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let url = self.url().await;
            if wanted(&url) || started.elapsed() > Duration::from_secs(15) {
                return url;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Wait (bounded) until the page shows `wanted`; returns the page's text.
    async fn wait_for_text(&self, wanted: &str) -> String {
        let started = Instant::now();
        loop {
            let text = self.text().await;
            if text.contains(wanted) || started.elapsed() > Duration::from_secs(15) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The page's visible text, or "" while the page is being replaced (a navigation makes the body
    /// element stale between finding it and reading it; callers wait and read again).
    async fn text(&self) -> String {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let Ok(response) = self
            .http
            .post(url)
            .json(&json!({"using": "css selector", "value": "body"}))
            .send()
            .await
        else {
            return String::new();
        };
        let found: Value = response.json().await.unwrap_or(Value::Null);
        let Some(body) = found["value"][ELEMENT_KEY].as_str() else {
            return String::new();
        };
        let url = format!("{}/session/{}/element/{body}/text", self.base, self.session);
        let Ok(response) = self.http.get(url).send().await else {
            return String::new();
        };
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        answer["value"].as_str().unwrap_or("").to_string()
    }

    async fn close(mut self) {
        let url = format!("{}/session/{}", self.base, self.session);
        let _ = self.http.delete(url).send().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn a_person_sets_up_upkeep_in_a_browser(db: TestDb) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let server = TestServer::start(db).await;
    let setup_url = server
        .setup_url
        .clone()
        .expect("a fresh installation offers setup");

    browser.open(&setup_url).await;
    browser
        .type_into("input[name=email]", "ana@example.com")
        .await;
    browser.type_into("input[name=name]", "Ana").await;
    browser
        .type_into("input[name=password]", "a long passphrase")
        .await;
    browser
        .click("form[action='/setup'] button[type=submit]")
        .await;
    let url = browser.wait_for_url(|url| url.ends_with("/services")).await;
    assert!(
        url.ends_with("/services"),
        "setup lands on the services page: {url}"
    );
    assert!(
        browser
            .wait_for_text("ana@example.com")
            .await
            .contains("ana@example.com"),
        "the owner is signed in"
    );

    browser.open(&server.url("/services/new")).await;
    browser.type_into("input[name=slug]", "checkout").await;
    browser
        .type_into("input[name=name]", "Checkout <beta>")
        .await;
    browser
        .click("form[action='/services'] button[type=submit]")
        .await;
    let url = browser
        .wait_for_url(|url| url.ends_with("/services/checkout"))
        .await;
    assert!(url.ends_with("/services/checkout"), "{url}");
    assert!(
        browser
            .wait_for_text("Checkout <beta>")
            .await
            .contains("Checkout <beta>"),
        "the name shows as typed, escaped in the HTML"
    );
    let stored = server
        .core()
        .storage
        .service_by_slug("checkout")
        .await
        .expect("lookup")
        .expect("service");
    assert_eq!(stored.name, "Checkout <beta>");

    browser
        .click("form[action='/logout'] button[type=submit]")
        .await;
    let url = browser.wait_for_url(|url| url.contains("/login")).await;
    assert!(url.contains("/login"), "{url}");
    browser
        .type_into("input[name=email]", "ana@example.com")
        .await;
    browser
        .type_into("input[name=password]", "not the passphrase")
        .await;
    browser
        .click("form[action='/login'] button[type=submit]")
        .await;
    let page = browser.wait_for_text("wrong").await;
    assert!(page.contains("wrong"), "a refused sign-in says why: {page}");
    browser.open(&server.url("/services")).await;
    let url = browser.wait_for_url(|url| url.contains("/login")).await;
    assert!(url.contains("/login"), "signed out for real: {url}");

    browser.close().await;
    server.stop().await;
}
