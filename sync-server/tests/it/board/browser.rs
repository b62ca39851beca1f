//! A real browser for the board's tests: Debian's chromium, headless, driven through
//! chromedriver over WebDriver (`fieldsync_tests::browser`). One chromedriver per test on a free
//! loopback port, ended when the test's `Browser` is dropped; screenshots saved as PNG artifacts.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fieldsync_tests::browser::{Chromium, Element, Launch};
use serde_json::{Value, json};

/// How long a test waits for the page to show what it expects.
pub const WAIT: Duration = Duration::from_secs(10);

/// Whether the browser tests can run here: chromium and chromedriver on `PATH` (else one
/// skip line naming them, or a failure under `FIELDSYNC_REQUIRE_ALL_TESTS=1`).
pub fn available(test: &str) -> bool {
    fieldsync_tests::tools::available(test, &fieldsync_tests::tools::Tool::BROWSER)
}

/// A headless chromium with its own chromedriver, on the board of a test server; both end
/// when it is dropped, also when a test fails half-way.
pub struct Browser {
    /// The WebDriver session.
    pub client: Chromium,
    /// The board's address (the test server's).
    pub base: String,
}

impl Browser {
    /// Starts chromedriver and a chromium window of `width`×`height` on the board at `base`.
    pub async fn start(base: &str, width: u32, height: u32) -> Browser {
        Browser::start_in(base, width, height, None).await
    }

    /// Like [`Browser::start`], with the browser in the time zone `zone` (`TZ`, e.g.
    /// `Asia/Shanghai`) rather than the machine's.
    pub async fn start_in(base: &str, width: u32, height: u32, zone: Option<&str>) -> Browser {
        let options = Launch {
            window: (width, height),
            lang: Some("zh-CN".into()),
            zone: zone.map(str::to_string),
        };
        let client = Chromium::start(&options).await.expect("a chromium session");
        let b = Browser { client, base: base.trim_end_matches('/').to_string() };
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
    pub async fn find(&self, css: &str) -> Element {
        match self.client.wait_for(css, WAIT).await {
            Ok(e) => e,
            Err(e) => {
                self.screenshot(&format!("failed-{}", slug(css))).await;
                panic!("no {css} on the page: {e}")
            }
        }
    }

    /// Sends keys to the element of a CSS selector, found again if the board re-rendered it
    /// in between.
    pub async fn keys_to(&self, css: &str, keys: &str) {
        if let Err(e) = self.client.send_keys_to(css, keys, WAIT).await {
            self.screenshot(&format!("failed-keys-{}", slug(css))).await;
            panic!("keys to {css}: {e}")
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
        let _ = self.client.close().await;
    }
}

fn slug(s: &str) -> String {
    s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).take(40).collect()
}
