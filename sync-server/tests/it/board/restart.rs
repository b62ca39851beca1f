//! The board through a server restart: the event stream reconnects by itself and resumes
//! after the last event it had, so a report that reached the new server before the page
//! reconnected is on the board all the same. Times are shown in the viewer's time zone (the
//! browser's, set apart from the machine's). On a server without grid outlines the map draws
//! its points on a plain projection, with a scale bar.

use fieldsync_core::model::ReportCategory;
use fieldsync_core::policy::Role;
use fieldsync_core::time::format_ms;
use fieldsync_server::ServerConfig;
use fieldsync_server::storage::index::IndexRow;

use super::browser::Browser;
use super::{file, report};
use crate::common::{GRID, Phone, TestServer, enroll_as, start_configured, start_with};
use crate::desk::{code_for, sync};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_keeps_going_through_a_server_restart() {
    if !super::browser::available("board::restart") {
        return;
    }
    let ts = start_with(|c| c).await;
    let addr = ts.running.addr();
    let resident = Phone::new("resident-1");
    enroll_as(ts.running.server(), &resident, Role::Resident, None, &[GRID]);
    let first = file(&resident, &report("停车占道", ReportCategory::Other, Some((43.88, 125.32))));
    sync(&ts, &resident).await;
    let code = code_for(&ts, "disp-1", Role::Dispatcher);

    // The viewer is in China, the machine (and the server) maybe not: times are the viewer's.
    let b = Browser::start_in(&ts.running.url(), 1366, 768, Some("Asia/Shanghai")).await;
    b.open("").await;
    b.type_into("#code", &code).await;
    b.find("#signin-submit").await.click().await.unwrap();
    b.until("live", "return document.querySelector('#live-state')?.textContent === '实时';").await;
    let stored = ts.running.server().storage().index_row(first).await.unwrap().unwrap();
    let IndexRow::Report(row) = stored.row else { panic!("a report") };
    let china = format_ms(row.created_at + 8 * 3_600_000).replace('-', "/").replace(" UTC", "");
    assert_eq!(b.text("#rows .row .c-created").await, china, "in the viewer's time zone");
    b.js("window.__sameDocument = true;", vec![]).await;

    // The server stops: the page says so, and keeps what it shows.
    let TestServer { dir, running, .. } = ts;
    running.shutdown().await.unwrap();
    b.until(
        "the lost connection",
        "return document.querySelector('#live-state').classList.contains('down');",
    )
    .await;
    assert_eq!(b.js("return document.querySelectorAll('#rows .row').length;", vec![]).await, 1);
    b.screenshot("board-reconnecting").await;

    // Back on the same address and data; a report arrives at once, maybe before the page is back.
    let ts = start_configured(dir, move |c| ServerConfig { ..c.with_listen(addr) }).await;
    let id = file(&resident, &report("restart 后的上报", ReportCategory::Noise, None));
    sync(&ts, &resident).await;
    b.until(
        "the report after the restart",
        &format!("return !!document.querySelector('#rows .row[data-doc=\"{id}\"]');"),
    )
    .await;
    b.until("live again", "return document.querySelector('#live-state').textContent === '实时';")
        .await;
    assert_eq!(b.js("return window.__sameDocument === true;", vec![]).await, true, "no reload");

    // The map without outlines: the points on a plain projection, with a scale bar.
    b.open("#/map").await;
    b.until("the marker", "return document.querySelectorAll('#map .marker.report').length === 1;")
        .await;
    let plain = b
        .js("return [document.querySelector('#map-note').hidden, !!document.querySelector('#scale-bar text')];", vec![])
        .await;
    assert_eq!(plain, serde_json::json!([false, true]));
    b.screenshot("map-plain").await;
    b.close().await;
}
