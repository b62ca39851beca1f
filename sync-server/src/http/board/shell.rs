//! The page's HTML, rendered by the server: the frame (title, navigation, language switch,
//! the message area, the view the modules fill) in the viewer's language, chosen by the
//! `fieldsync_lang` cookie the language switch sets (zh-CN unless it says `en`), with its
//! words from the same language files the page's modules use. No inline script or style: the
//! modules are loaded from `/board/`, so the Content-Security-Policy needs no exception.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::assets::{Web, etag};
use crate::http::desk::cookie;

/// The languages the board speaks; the first is the default.
pub(crate) const LANGUAGES: [&str; 2] = ["zh-CN", "en"];

/// The cookie the language switch sets (readable by the page: it holds no secret).
const LANG_COOKIE: &str = "fieldsync_lang";

/// The language of a request: its `fieldsync_lang` cookie's, if it names one of ours.
fn language(headers: &HeaderMap) -> &'static str {
    cookie::values(headers, LANG_COOKIE)
        .find_map(|value| LANGUAGES.into_iter().find(|l| *l == value))
        .unwrap_or(LANGUAGES[0])
}

/// The words of `lang` (its file under `web/i18n/`).
fn words(lang: &str) -> HashMap<String, String> {
    Web::get(&format!("i18n/{lang}.json"))
        .and_then(|f| serde_json::from_slice(&f.data).ok())
        .unwrap_or_default()
}

/// `text` with the characters that mean something in HTML escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A file's URL with its version, so that a new server's file is never taken from a cache.
fn versioned(file: &str) -> String {
    let v = Web::get(file).map(|f| etag(&f)).unwrap_or_default();
    format!("{}{file}?v={}", super::ASSETS_PREFIX, v.trim_matches('"'))
}

/// The shell in `lang`.
pub(crate) fn render(lang: &str) -> String {
    let w = words(lang);
    let t = |key: &str| escape(w.get(key).map(String::as_str).unwrap_or(key));
    let nav: String = [
        ("board", "nav.board"),
        ("map", "nav.map"),
        ("assess", "nav.assess"),
        ("patrols", "nav.patrols"),
        ("cases", "nav.cases"),
        ("wall", "nav.wall"),
    ]
    .iter()
    .map(|(route, key)| format!("<a href=\"#/{route}\" data-route=\"{route}\">{}</a>", t(key)))
    .collect();
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<link rel=\"stylesheet\" href=\"{css}\">\n\
         <script type=\"module\" src=\"{js}\"></script>\n</head>\n<body>\n\
         <a class=\"skip\" href=\"#view\">{skip}</a>\n\
         <header class=\"top\" id=\"top\">\n<h1 class=\"brand\">{title}</h1>\n\
         <nav class=\"nav\" id=\"nav\" aria-label=\"{navlabel}\" hidden>{nav}</nav>\n\
         <span class=\"who\" id=\"who\"></span>\n\
         <button type=\"button\" class=\"link\" id=\"sign-out\" hidden>{signout}</button>\n\
         <button type=\"button\" class=\"link\" id=\"lang\" lang=\"{other}\">{switch}</button>\n\
         </header>\n<div class=\"messages\" id=\"messages\" role=\"alert\" aria-live=\"assertive\"></div>\n\
         <main id=\"view\" tabindex=\"-1\"><p class=\"loading\">{loading}</p>\
         <noscript><p class=\"error\">{noscript}</p></noscript></main>\n</body>\n</html>\n",
        title = t("app.title"),
        css = versioned("style.css"),
        js = versioned("app.js"),
        skip = t("app.skip"),
        navlabel = t("nav.label"),
        signout = t("signin.out"),
        other = if lang == "en" { "zh-CN" } else { "en" },
        switch = t("app.switch"),
        loading = t("app.loading"),
        noscript = t("app.noscript"),
    )
}

/// The shell in each of [`LANGUAGES`], rendered once: its words and files are compiled in.
static PAGES: LazyLock<[String; 2]> = LazyLock::new(|| LANGUAGES.map(render));

/// `GET /`: the shell, in the viewer's language.
pub(crate) async fn page(headers: HeaderMap) -> Response {
    let lang = language(&headers);
    let html = if lang == LANGUAGES[1] { &PAGES[1] } else { &PAGES[0] };
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::VARY, HeaderValue::from_static("Cookie")),
        ],
        html.clone(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shell_speaks_the_cookies_language_and_has_no_inline_code() {
        let mut h = HeaderMap::new();
        assert_eq!(language(&h), "zh-CN");
        h.insert(header::COOKIE, "a=b; fieldsync_lang=en".parse().unwrap());
        assert_eq!(language(&h), "en");
        h.insert(header::COOKIE, "fieldsync_lang=fr".parse().unwrap());
        assert_eq!(language(&h), "zh-CN", "an unknown language falls back");
        let zh = render("zh-CN");
        assert!(zh.contains("<html lang=\"zh-CN\">") && zh.contains("指挥中心"), "{zh}");
        assert!(render("en").contains("Command centre"));
        for html in [zh, render("en")] {
            assert!(!html.contains("style="), "no inline style");
            assert_eq!(html.matches("<script").count(), 1);
            assert!(html.contains("<script type=\"module\" src=\"/board/app.js?v="));
        }
        assert_eq!(escape("<b a='1'>&\""), "&lt;b a=&#39;1&#39;&gt;&amp;&quot;");
    }

    #[test]
    fn both_languages_have_every_word() {
        let zh = words("zh-CN");
        let en = words("en");
        assert!(zh.len() > 100, "{}", zh.len());
        let mut missing: Vec<&String> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
        missing.extend(en.keys().filter(|k| !zh.contains_key(*k)));
        assert!(missing.is_empty(), "in one language only: {missing:?}");
    }
}
