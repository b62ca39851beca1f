//! A headless chromium for the board's browser tests and `bench board`, driven through its
//! chromedriver over the W3C WebDriver protocol (JSON over HTTP on loopback).
//!
//! The tests need a dozen commands (open a page, run a script, find an element by CSS, click,
//! type, read text, screenshot); this client is those commands over the reqwest and serde_json
//! the workspace already builds. A WebDriver crate (fantoccini) brought 30 crates of its
//! own (a second HTTP stack, cookie jars, a second ICU) to every clean build: about 120 CPU-s on
//! the 2-core CI machine for code the tests use a tenth of.
//!
//! Each [`Chromium`] starts its own chromedriver on a free loopback port, in its own process
//! group, and ends it (and every chromium it started) when dropped, also when a test fails
//! half-way.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The key under which WebDriver names an element in its answers (W3C, "web element
/// identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// What went wrong talking to the browser.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// chromedriver could not be started, or did not listen in time.
    #[error("chromedriver: {0}")]
    Start(String),
    /// The HTTP exchange with chromedriver failed.
    #[error("WebDriver request: {0}")]
    Http(#[from] reqwest::Error),
    /// chromedriver answered with an error (`no such element`, `javascript error`, …).
    #[error("WebDriver {error}: {message}")]
    Driver {
        /// The error code the protocol gives.
        error: String,
        /// The driver's explanation.
        message: String,
    },
    /// chromedriver's answer was not what the protocol says.
    #[error("WebDriver answer: {0}")]
    Answer(String),
    /// Waited too long for an element.
    #[error("no {0} on the page within {1:?}")]
    Timeout(String, Duration),
}

/// How to start the browser: its window, language and time zone.
#[derive(Debug, Clone)]
pub struct Launch {
    /// The window's size in pixels.
    pub window: (u32, u32),
    /// chromium's user-interface language (`--lang`), if not the machine's.
    pub lang: Option<String>,
    /// The browser's time zone (`TZ`, e.g. `Asia/Shanghai`), if not the machine's.
    pub zone: Option<String>,
}

impl Default for Launch {
    fn default() -> Self {
        Launch { window: (1366, 900), lang: None, zone: None }
    }
}

/// One WebDriver session's address and the HTTP client that reaches it.
#[derive(Debug, Clone)]
struct Session {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/session/ID`.
    url: String,
}

impl Session {
    /// Sends one command; answers its `value`, or the driver's error.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, BrowserError> {
        send(&self.http, method, &format!("{}{path}", self.url), body).await
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value, BrowserError> {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Result<Value, BrowserError> {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// The element a `find` command answered with.
    fn element(&self, found: Value) -> Result<Element, BrowserError> {
        let id = found
            .get(ELEMENT_KEY)
            .and_then(Value::as_str)
            .ok_or_else(|| BrowserError::Answer(format!("not an element: {found}")))?;
        Ok(Element { session: self.clone(), id: id.to_string() })
    }
}

async fn send(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    body: Option<Value>,
) -> Result<Value, BrowserError> {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.to_string());
    }
    let response = request.send().await?;
    let ok = response.status().is_success();
    let bytes = response.bytes().await?;
    let mut answer: Value = serde_json::from_slice(&bytes)
        .map_err(|e| BrowserError::Answer(format!("{e}: {}", String::from_utf8_lossy(&bytes))))?;
    let value = answer.get_mut("value").map(Value::take).unwrap_or(Value::Null);
    if ok {
        return Ok(value);
    }
    let field = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Err(BrowserError::Driver { error: field("error"), message: field("message") })
}

/// A headless chromium with its own chromedriver; both end when this is dropped.
#[derive(Debug)]
pub struct Chromium {
    driver: Child,
    session: Session,
}

impl Chromium {
    /// Starts chromedriver on a free loopback port and a headless chromium session in it.
    pub async fn start(options: &Launch) -> Result<Chromium, BrowserError> {
        let start = |e: std::io::Error| BrowserError::Start(e.to_string());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(start)?
            .port();
        let mut command = Command::new("chromedriver");
        if let Some(zone) = &options.zone {
            command.env("TZ", zone);
        }
        // Its own process group, so that the chromium it starts ends with it.
        let driver = command
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(start)?;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        // From here on `Chromium`'s drop ends the driver, whatever fails.
        let mut browser =
            Chromium { driver, session: Session { http: http.clone(), url: String::new() } };
        let started = Instant::now();
        while http.get(format!("{base}/status")).send().await.is_err() {
            if started.elapsed() > Duration::from_secs(10) {
                return Err(BrowserError::Start(format!("did not listen on {port}")));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (width, height) = options.window;
        let mut args = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--no-first-run".into(),
            "--disable-extensions".into(),
            "--hide-scrollbars".into(),
            format!("--window-size={width},{height}"),
        ];
        if let Some(lang) = &options.lang {
            args.push(format!("--lang={lang}"));
        }
        let capabilities = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "args": args },
        }}});
        let created =
            send(&http, reqwest::Method::POST, &format!("{base}/session"), Some(capabilities))
                .await?;
        let id = created
            .get("sessionId")
            .and_then(Value::as_str)
            .ok_or_else(|| BrowserError::Answer(format!("no session id in {created}")))?;
        browser.session.url = format!("{base}/session/{id}");
        Ok(browser)
    }

    /// Opens `url` and waits for it to load.
    pub async fn goto(&self, url: &str) -> Result<(), BrowserError> {
        self.session.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// Loads the current page again.
    pub async fn refresh(&self) -> Result<(), BrowserError> {
        self.session.post("/refresh", json!({})).await.map(drop)
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the page and answers what it
    /// returns (a promise is awaited).
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, BrowserError> {
        self.session.post("/execute/sync", json!({ "script": script, "args": args })).await
    }

    /// Makes the window (not the page's viewport inside it) `width`×`height`.
    pub async fn set_window_size(&self, width: u32, height: u32) -> Result<(), BrowserError> {
        self.session
            .post("/window/rect", json!({ "width": width, "height": height }))
            .await
            .map(drop)
    }

    /// The first element of a CSS selector, if it is on the page now.
    pub async fn find(&self, css: &str) -> Result<Element, BrowserError> {
        let found = self.session.post("/element", by_css(css)).await?;
        self.session.element(found)
    }

    /// The first element of a CSS selector, once it is on the page (polled until `within`).
    pub async fn wait_for(&self, css: &str, within: Duration) -> Result<Element, BrowserError> {
        let started = Instant::now();
        loop {
            match self.find(css).await {
                Err(BrowserError::Driver { error, .. })
                    if error == "no such element" && started.elapsed() < within =>
                {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                Err(BrowserError::Driver { error, .. }) if error == "no such element" => {
                    return Err(BrowserError::Timeout(css.to_string(), within));
                }
                found => return found,
            }
        }
    }

    /// Sends `text` to the first element of a CSS selector, found again if the page replaced
    /// it between the find and the keys (`stale element reference`: nothing was sent), until
    /// `within`. A page that re-renders a list (the board does on every new row) replaces the
    /// element a test found a moment before.
    pub async fn send_keys_to(
        &self,
        css: &str,
        text: &str,
        within: Duration,
    ) -> Result<(), BrowserError> {
        let started = Instant::now();
        loop {
            let sent = match self.wait_for(css, within.saturating_sub(started.elapsed())).await {
                Ok(element) => element.send_keys(text).await,
                Err(e) => Err(e),
            };
            match sent {
                Err(BrowserError::Driver { error, .. })
                    if error == "stale element reference" && started.elapsed() < within =>
                {
                    tokio::time::sleep(Duration::from_millis(25)).await;
                }
                other => return other,
            }
        }
    }

    /// A PNG of the window.
    pub async fn screenshot(&self) -> Result<Vec<u8>, BrowserError> {
        let encoded = self.session.get("/screenshot").await?;
        let encoded = encoded
            .as_str()
            .ok_or_else(|| BrowserError::Answer("screenshot not a string".into()))?;
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|e| BrowserError::Answer(format!("screenshot: {e}")))
    }

    /// Ends the session (the driver ends when this is dropped).
    pub async fn close(&self) -> Result<(), BrowserError> {
        self.session.call(reqwest::Method::DELETE, "", None).await.map(drop)
    }
}

impl Drop for Chromium {
    fn drop(&mut self) {
        // The driver's whole process group: no chromium outlives its test.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn by_css(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

/// An element of the page.
#[derive(Debug, Clone)]
pub struct Element {
    session: Session,
    id: String,
}

impl Element {
    async fn post(&self, what: &str, body: Value) -> Result<Value, BrowserError> {
        self.session.post(&format!("/element/{}/{what}", self.id), body).await
    }

    async fn get(&self, what: &str) -> Result<Value, BrowserError> {
        self.session.get(&format!("/element/{}/{what}", self.id)).await
    }

    /// Clicks it (scrolled into view first, as a user would).
    pub async fn click(&self) -> Result<(), BrowserError> {
        self.post("click", json!({})).await.map(drop)
    }

    /// Its rendered text.
    pub async fn text(&self) -> Result<String, BrowserError> {
        let text = self.get("text").await?;
        text.as_str()
            .map(str::to_string)
            .ok_or_else(|| BrowserError::Answer(format!("text {text}")))
    }

    /// Empties a field.
    pub async fn clear(&self) -> Result<(), BrowserError> {
        self.post("clear", json!({})).await.map(drop)
    }

    /// Types `text` into it (WebDriver's key codes, e.g. `\u{E007}` for Enter, included).
    pub async fn send_keys(&self, text: &str) -> Result<(), BrowserError> {
        self.post("value", json!({ "text": text })).await.map(drop)
    }

    /// An attribute's value, if it has it.
    pub async fn attr(&self, name: &str) -> Result<Option<String>, BrowserError> {
        let value = self.get(&format!("attribute/{name}")).await?;
        Ok(value.as_str().map(str::to_string))
    }

    /// Whether it is shown.
    pub async fn is_displayed(&self) -> Result<bool, BrowserError> {
        let shown = self.get("displayed").await?;
        shown.as_bool().ok_or_else(|| BrowserError::Answer(format!("displayed {shown}")))
    }

    /// Chooses the option of a `<select>` whose value is `value`, as a user would: by
    /// clicking it.
    pub async fn select_by_value(&self, value: &str) -> Result<(), BrowserError> {
        let css = format!("option[value=\"{}\"]", value.replace('\\', "\\\\").replace('"', "\\\""));
        let found = self.post("element", by_css(&css)).await?;
        self.session.element(found)?.click().await
    }
}
