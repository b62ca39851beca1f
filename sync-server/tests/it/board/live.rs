//! The live board from sign-in to dispatch, at 1366×768, under a server clock two hours ahead
//! of the phones (so that a safety hazard, to be accepted within an hour, is overdue).

use std::sync::Arc;
use std::sync::atomic::AtomicI64;
use std::time::{Duration, Instant};

use fieldsync_core::model::{ReportCategory, ReportStatus};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::time::now_ms;
use fieldsync_server::ServerConfig;
use fieldsync_server::escalation::Clock;
use serde_json::json;

use super::browser::Browser;
use super::{ROW_TITLES, file, report};
use crate::common::{GRID, Phone, enroll_as, start_configured};
use crate::desk::{code_for, report_on, sync};

const HOUR: i64 = 3_600_000;
const HOSTILE: &str = "<script>alert(1)</script>";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_board_signs_in_goes_live_and_dispatches_to_the_phone() {
    if !super::browser::available("board::live") {
        return;
    }
    let clock = Arc::new(AtomicI64::new(now_ms() + 2 * HOUR));
    let manual = Clock::Manual(clock.clone());
    let ts = start_configured(tempfile::tempdir().unwrap(), move |c| ServerConfig {
        escalate_every: None,
        clock: manual,
        ..c
    })
    .await;
    let server = ts.running.server();
    let resident = Phone::new("resident-1");
    enroll_as(server, &resident, Role::Resident, None, &[GRID]);
    let officer = Phone::new("officer-1");
    enroll_as(server, &officer, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
    sync(&ts, &officer).await;
    let roof = file(&resident, &report("屋顶违章搭建", ReportCategory::IllegalConstruction, None));
    let hazard = file(&resident, &report("井盖缺失", ReportCategory::SafetyHazard, None));
    file(&resident, &report(HOSTILE, ReportCategory::Other, None));
    file(&resident, &report("夜间施工噪音", ReportCategory::Noise, None));
    sync(&ts, &resident).await;
    let resident_code = code_for(&ts, "resident-2", Role::Resident);
    let patrol_code = code_for(&ts, "cop-2", Role::Patrol);
    let dispatcher_code = code_for(&ts, "disp-1", Role::Dispatcher);

    let b = Browser::start(&ts.running.url(), 1366, 768).await;

    // A resident's code opens no session: the page says why, in Chinese.
    b.open("").await;
    b.type_into("#code", &resident_code).await;
    b.find("#signin-submit").await.click().await.unwrap();
    let refused =
        b.until("the refusal", "return document.querySelector('#signin-error').textContent;").await;
    assert!(refused.as_str().unwrap().contains("不能登录指挥中心"), "{refused}");
    // Signed out, the page offers neither the pages nor a sign-out: they are not drawn at all.
    let shown = b
        .js(
            "return ['#nav', '#sign-out'].map(s => getComputedStyle(document.querySelector(s)).display);",
            vec![],
        )
        .await;
    assert_eq!(shown, serde_json::json!(["none", "none"]), "signed out, the header shows {shown}");
    b.screenshot("signin-refused").await;
    // Nor a patrol member's.
    b.js("document.querySelector('#signin-error').textContent = '';", vec![]).await;
    b.type_into("#code", &patrol_code).await;
    b.find("#signin-submit").await.click().await.unwrap();
    let refused =
        b.until("the refusal", "return document.querySelector('#signin-error').textContent;").await;
    assert!(refused.as_str().unwrap().contains("不能登录指挥中心"), "{refused}");
    assert!(ts.running.server().accounts().sessions(true).unwrap().is_empty());

    // The dispatcher signs in: the open reports, the overdue one first and marked.
    b.type_into("#code", &dispatcher_code).await;
    b.find("#signin-submit").await.click().await.unwrap();
    b.until("four rows", "return document.querySelectorAll('#rows .row').length === 4;").await;
    let first = b
        .js(
            "const r = document.querySelector('#rows .row');
             return [r.dataset.doc, r.classList.contains('overdue'),
                     r.querySelector('.overdue-mark')?.textContent];",
            vec![],
        )
        .await;
    assert_eq!(first, json!([hazard.to_string(), true, "超时"]), "the overdue report first");
    assert_eq!(
        b.js("return document.querySelectorAll('#rows .row.overdue').length;", vec![]).await,
        1
    );
    b.until(
        "the counters",
        "return document.querySelector('[data-count=overdue]').textContent === '1';",
    )
    .await;
    assert_eq!(b.text("[data-count=submitted]").await, "4");
    assert_eq!(b.text("#who").await, "disp-1（调度员）");

    // A hostile title is text: no element made of it, nothing run.
    let shown = b
        .js(
            "const t = [...document.querySelectorAll('#rows .title')]
                 .find(e => e.textContent.includes('alert'));
             return [t.textContent, t.children.length, document.querySelectorAll('script').length];",
            vec![],
        )
        .await;
    assert_eq!(shown, json!([HOSTILE, 0, 1]), "the title as text, and only the page's own script");

    // A phone's report reaches the board without a reload, within 2 s.
    b.js(
        "window.__sameDocument = true;
         window.__shifted = 0;
         new PerformanceObserver((list) => {
           for (const e of list.getEntries()) window.__shifted += e.value;
         }).observe({ type: 'layout-shift' });",
        vec![],
    )
    .await;
    b.screenshot("board").await;
    let fresh = file(
        &resident,
        &report("路灯不亮", ReportCategory::RoadFacilityDamage, Some((43.88, 125.32))),
    );
    let synced = Instant::now();
    sync(&ts, &resident).await;
    b.until(
        "the phone's report",
        &format!("return !!document.querySelector('#rows .row[data-doc=\"{fresh}\"]');"),
    )
    .await;
    let took = synced.elapsed();
    assert!(took < Duration::from_secs(2), "the row came after {took:?}");
    assert_eq!(b.js("return window.__sameDocument === true;", vec![]).await, true, "no reload");
    b.until(
        "five submitted",
        "return document.querySelector('[data-count=submitted]').textContent === '5';",
    )
    .await;

    // Nothing on the page moved for it (counters and rows keep their sizes).
    assert_eq!(b.js("return window.__shifted;", vec![]).await, 0, "layout shift");

    // Filters: category, text, grid, overdue; each the server's answer.
    let category = b.find("#f-category").await;
    category.select_by_value("noise").await.unwrap();
    b.until(
        "the noise report alone",
        "return document.querySelectorAll('#rows .row').length === 1;",
    )
    .await;
    assert_eq!(b.js(ROW_TITLES, vec![]).await, json!(["夜间施工噪音"]));
    b.screenshot("board-filtered").await;
    category.select_by_value("").await.unwrap();
    b.type_into("#f-q", "井盖").await;
    b.until("the text filter", &rows_are(&["井盖缺失"])).await;
    b.type_into("#f-q", "").await;
    b.type_into("#f-scope", "jl/elsewhere").await;
    b.until("nothing elsewhere", "return !document.querySelector('#board-empty').hidden;").await;
    b.type_into("#f-scope", GRID).await;
    b.find("#f-overdue").await.click().await.unwrap();
    b.until("the overdue filter", &rows_are(&["井盖缺失"])).await;
    b.find("#f-overdue").await.click().await.unwrap();
    b.until("all five again", "return document.querySelectorAll('#rows .row').length === 5;").await;

    // From the keyboard: to the rows, down to the second, open it.
    const DOWN: &str = "\u{E015}";
    b.keys_to("#rows", DOWN).await; // to the first row
    // The next key goes to the row once it holds the focus: sent as the focus moved, under
    // load, the browser once refused it ("element not interactable"). The board renders its
    // rows anew (a page of rows arriving), keeping the focus on the same row but in a new
    // element: the one found may be gone when the key is sent ("stale element reference").
    b.until("the first row focused", "return document.activeElement?.dataset.index === '0';").await;
    b.keys_to("#rows .row:focus", DOWN).await;
    let focused = b.js("return document.activeElement.dataset.index;", vec![]).await;
    assert_eq!(focused, "1", "the arrows move through the rows");

    // Dispatch from the record's page: accept, then dispatch to the officer with a deadline.
    b.open(&format!("#/record/{roof}")).await;
    b.find("#do-accept").await.click().await.unwrap();
    b.until("accepted", "return document.querySelector('#record')?.dataset.status === 'accepted';")
        .await;
    let responder = b.find("#a-dispatch-assignee").await;
    b.until(
        "the responders",
        "return document.querySelectorAll('#a-dispatch-assignee option').length > 1;",
    )
    .await;
    responder.select_by_value("officer-1").await.unwrap();
    let deadline = b
        .js(
            "return new Date(document.querySelector('#a-dispatch-deadline').value).getTime();",
            vec![],
        )
        .await
        .as_i64()
        .unwrap();
    b.find("#do-dispatch").await.click().await.unwrap();
    b.until(
        "dispatched",
        "return document.querySelector('#record')?.dataset.status === 'dispatched';",
    )
    .await;
    sync(&ts, &officer).await;
    let on_phone = report_on(&officer, roof);
    assert_eq!(on_phone.status, ReportStatus::Dispatched);
    assert_eq!(on_phone.assignee.as_deref(), Some("officer-1"));
    assert_eq!(on_phone.deadline.map(|d| d.as_millis()), Some(deadline));

    // Supervise (督办): on the page at once, on the phone after its sync.
    b.type_into("#a-supervise-note", "请今天17时前处理完毕").await;
    b.find("#do-supervise").await.click().await.unwrap();
    b.until(
        "the supervision in the timeline",
        "return [...document.querySelectorAll('#timeline li')].some(l => l.textContent.includes('请今天17时前处理完毕'));",
    )
    .await;
    b.screenshot("record").await;
    sync(&ts, &officer).await;
    let last = report_on(&officer, roof).timeline.pop().unwrap();
    assert_eq!((last.action.as_str(), last.by.as_str()), ("supervise", "disp-1"));
    assert_eq!(last.note, "请今天17时前处理完毕");

    // On to the end of the loop from the page: work started, resolved, confirmed, points
    // awarded to the resident, whose phone has them after its sync.
    for (action, status) in
        [("start_work", "in_progress"), ("resolve", "resolved"), ("confirm", "confirmed")]
    {
        b.find(&format!("#do-{action}")).await.click().await.unwrap();
        b.until(
            status,
            &format!("return document.querySelector('#record')?.dataset.status === '{status}';"),
        )
        .await;
    }
    b.type_into("#a-award_points-points", "20").await;
    b.find("#do-award_points").await.click().await.unwrap();
    b.until(
        "the points",
        "return [...document.querySelectorAll('#record dd')].some(d => d.textContent === '20');",
    )
    .await;
    sync(&ts, &resident).await;
    let done = report_on(&resident, roof);
    assert_eq!((done.status, done.points), (ReportStatus::Confirmed, 20));

    // The wall screen at 1920×1080: large counters, the overdue list, nothing to press.
    b.viewport(1920, 1080).await;
    b.open("#/wall").await;
    b.until(
        "the wall's counters",
        "return document.querySelector('[data-count=overdue]')?.textContent === '1';",
    )
    .await;
    let wall = b
        .js(
            "return [document.querySelectorAll('#wall-list li').length,
                     parseFloat(getComputedStyle(document.querySelector('.tile.big .count')).fontSize)];",
            vec![],
        )
        .await;
    assert_eq!(wall[0], 1, "{wall}");
    assert!(wall[1].as_f64().unwrap() >= 60.0, "large counters: {wall}");
    b.screenshot("wall").await;

    // The other filters: any state, the assignee, today; then all cleared (open ones again).
    b.open("#/board").await;
    b.find("#rows .row").await;
    b.find("#f-state").await.select_by_value("any").await.unwrap();
    b.type_into("#f-assignee", "officer-1\u{E007}").await;
    b.until("the officer's report", &rows_are(&["屋顶违章搭建"])).await;
    b.find("#f-period").await.select_by_value("today").await.unwrap();
    b.until("today's", &rows_are(&["屋顶违章搭建"])).await;
    b.find("#f-clear").await.click().await.unwrap();
    b.until("the open ones", "return document.querySelectorAll('#rows .row').length === 4;").await;
    assert_eq!(b.js("return document.querySelector('#f-assignee').value;", vec![]).await, "");

    // A failure is a message, never an empty page: a record that does not exist.
    b.open("#/record/nothing-here").await;
    let said = b
        .until("the error", "return document.querySelector('#messages .msg.error')?.textContent;")
        .await;
    assert!(said.as_str().unwrap().contains("找不到该记录"), "{said}");
    assert!(b.find("#view a[href='#/board']").await.is_displayed().await.unwrap(), "a way back");

    // Signing out ends the session; the page asks for a code again.
    b.viewport(1366, 768).await;
    b.open("#/board").await;
    b.find("#sign-out").await.click().await.unwrap();
    b.find("#signin").await;
    let sessions = ts.running.server().accounts().sessions(true).unwrap();
    assert!(sessions.iter().all(|s| s.ended.is_some()), "{sessions:?}");
    b.close().await;
}

/// A script that is true when the board's rows are exactly `titles`.
fn rows_are(titles: &[&str]) -> String {
    let want = serde_json::to_string(titles).unwrap();
    format!("{ROW_TITLES_FN} return JSON.stringify(titles()) === JSON.stringify({want});")
}

const ROW_TITLES_FN: &str = "const titles = () => [...document.querySelectorAll('#rows .row .title')].map(e => e.textContent);";
