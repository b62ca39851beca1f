//! A real browser for the board's tests: Debian's chromium, headless, driven through
//! chromedriver over WebDriver with fantoccini. One chromedriver per test on a free loopback
//! port, ended when the test's `Browser` is dropped; screenshots saved as PNG artifacts.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// How long a test waits for the page to show what it expects.
pub const WAIT: Duration = Duration::from_secs(10);

/// Whether the browser tests can run here: chromium and chromedriver on `PATH` (else one
/// skip line naming them, or a failure under `FIELDSYNC_REQUIRE_ALL_TESTS=1`).
pub fn available(test: &str) -> bool {
    fieldsync_tests::tools::available(test, &fieldsync_tests::tools::Tool::BROWSER)
}

/// A headless chromium with its own chromedriver.
pub struct Browser {
    driver: Child,
    /// The WebDriver session.
    pub client: Client,
    /// The board's address (the test server's).
    pub base: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Browser {
    /// Starts chromedriver and a chromium window of `width`×`height` on the board at `base`.
    pub async fn start(base: &str, width: u32, height: u32) -> Browser {
        Browser::start_in(base, width, height, None).await
    }

    /// Like [`Browser::start`], with the browser in the time zone `zone` (`TZ`, e.g.
    /// `Asia/Shanghai`) rather than the machine's.
    pub async fn start_in(base: &str, width: u32, height: u32, zone: Option<&str>) -> Browser {
        let port = free_port();
        // Its own process group, so that the chromium it starts ends with it (`kill_all`).
        let mut driver = Command::new("chromedriver");
        if let Some(zone) = zone {
            driver.env("TZ", zone);
        }
        let driver = driver
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http.get(format!("{url}/status")).send().await.is_err() {
            assert!(started.elapsed() < WAIT, "chromedriver did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={width},{height}"), "--lang=zh-CN",
                ],
            }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a chromium session");
        let b = Browser { driver, client, base: base.trim_end_matches('/').to_string() };
        b.viewport(width, height).await;
        b
    }

    /// Makes the page's viewport (not the window around it) `width`×`height`.
    pub async fn viewport(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
        let inner = self.js("return [window.innerWidth, window.innerHeight];", vec![]).await;
        let (w, h) = (inner[0].as_u64().unwrap() as u32, inner[1].as_u64().unwrap() as u32);
        if (w, h) != (width, height) {
            let window = (2 * width).saturating_sub(w);
            self.client.set_window_size(window, (2 * height).saturating_sub(h)).await.unwrap();
        }
    }

    /// Opens the board at `hash` (`#/board`, …).
    pub async fn open(&self, hash: &str) {
        self.client.goto(&format!("{}/{hash}", self.base)).await.unwrap();
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("{script}: {e}"))
    }

    /// Waits until `script` returns a truthy value; returns it.
    pub async fn until(&self, what: &str, script: &str) -> Value {
        let started = Instant::now();
        loop {
            let v = self.client.execute(script, vec![]).await.unwrap_or(Value::Null);
            let truthy =
                !matches!(&v, Value::Null | Value::Bool(false)) && v != json!(0) && v != json!("");
            if truthy {
                return v;
            }
            if started.elapsed() > WAIT {
                let shot = self.screenshot(&format!("failed-{}", slug(what))).await;
                panic!("the page did not show {what} within {WAIT:?} (screenshot {shot:?})");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// The element of a CSS selector, once it is there.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self.client.wait().at_most(WAIT).for_element(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => {
                self.screenshot(&format!("failed-{}", slug(css))).await;
                panic!("no {css} on the page: {e}")
            }
        }
    }

    /// The text of the first element of a selector.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Types `text` into the field of a selector (cleared first).
    pub async fn type_into(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Saves a PNG of the window as `<name>.png` in the tests' artifact folder (and in
    /// `docs/screenshots/` with `FIELDSYNC_UPDATE_SCREENSHOTS=1`); returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a screenshot is a PNG");
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("board-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, &png).unwrap();
        if std::env::var("FIELDSYNC_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1")
            && !name.starts_with("failed-")
        {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::write(docs.join(format!("{name}.png")), &png).unwrap();
        }
        path
    }

    /// Ends the session, then the driver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }

    /// Ends chromedriver and every process it started (its process group).
    fn kill_all(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Also when a failed test never reached `close`: no chromium outlives its test.
        self.kill_all();
    }
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(40).collect()
}
