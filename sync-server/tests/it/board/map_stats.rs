//! The map, the assessment, the read lists and the English page, at 1920×1080, on a server
//! given grid outlines: one marker per located report, the patrol's located entry, the grid's
//! outline and a scale bar; the assessment's table equal to the statistics API's answer for the
//! same period, and its CSV download; a conflict of two phones settled on the record's page;
//! a report's photo, its thumbnail and the original on a click.

use fieldsync_core::model::{
    Command, EntryKind, Location, MemberKind, NewEntry, NewPatrol, NewRecord, PhotoRef,
    ReportCategory, TeamMember,
};
use fieldsync_core::policy::{PatrolKind, Role};
use fieldsync_core::time::{Timestamp, now_ms};
use fieldsync_server::ServerConfig;
use fieldsync_server::grids::GridOutlines;
use serde_json::Value;
use sha2::Digest as _;

use super::browser::Browser;
use super::{file, report};
use crate::common::{GRID, Phone, acked, enroll_as, fetch, start_with};
use crate::desk::{code_for, desk, get, sync};

/// The test grid's outline: a square around the reports.
fn outline() -> GridOutlines {
    let text = format!(
        r#"{{"type": "FeatureCollection", "features": [{{"type": "Feature",
            "properties": {{"name": "七网格", "scope": "{GRID}"}},
            "geometry": {{"type": "Polygon", "coordinates": [[[125.310, 43.870], [125.335, 43.870],
                [125.335, 43.890], [125.310, 43.890], [125.310, 43.870]]]}}}}]}}"#
    );
    GridOutlines::parse(&text).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_and_the_assessment_show_what_the_api_says() {
    if !super::browser::available("board::map_stats") {
        return;
    }
    let ts = start_with(|c| ServerConfig { grid_outlines: Some(outline()), ..c }).await;
    let server = ts.running.server();
    let resident = Phone::new("resident-1");
    enroll_as(server, &resident, Role::Resident, None, &[GRID]);
    let places = [(43.875, 125.315), (43.880, 125.320), (43.885, 125.330)];
    let mut located = Vec::new();
    for (i, place) in places.iter().enumerate() {
        let category =
            [ReportCategory::Sanitation, ReportCategory::Noise, ReportCategory::Noise][i];
        located.push(
            file(&resident, &report(&format!("上报{i}"), category, Some(*place))).to_string(),
        );
    }
    file(&resident, &report("没有位置的上报", ReportCategory::Other, None));
    sync(&ts, &resident).await;
    let cop = Phone::new("cop-1");
    enroll_as(server, &cop, Role::Patrol, Some(PatrolKind::Police), &[GRID]);
    let patrol = cop
        .store
        .create(&NewRecord::PatrolLog {
            patrol_log: NewPatrol {
                scope: GRID.into(),
                area: "景区北门".into(),
                members: vec![TeamMember {
                    user: "cop-1".into(),
                    name: "李警官".into(),
                    kind: MemberKind::Police,
                }],
                checkpoints: vec![],
            },
        })
        .unwrap();
    let entry = NewEntry {
        kind: EntryKind::Observation,
        text: "北门游客较多".into(),
        location: Some(Location {
            lat: 43.889,
            lon: 125.311,
            accuracy: 5.0,
            address: String::new(),
        }),
        photos: vec![],
        checkpoint: None,
    };
    cop.store.execute(patrol, &Command::AddPatrolEntry { entry }).unwrap();
    acked(&ts, &cop, patrol).await;
    let code = code_for(&ts, "disp-1", Role::Dispatcher);

    let b = Browser::start(&ts.running.url(), 1920, 1080).await;
    b.open("").await;
    b.type_into("#code", &code).await;
    b.find("#signin-submit").await.click().await.unwrap();
    b.find("#rows .row").await;

    // The map: one marker per located report, the patrol's entry, the outline, a scale bar.
    b.open("#/map").await;
    b.until(
        "three markers",
        "return document.querySelectorAll('#map .marker.report').length === 3;",
    )
    .await;
    let drawn = b
        .js(
            "return [[...document.querySelectorAll('#map .marker.report')].map(m => m.dataset.doc).sort(),
                     document.querySelectorAll('#map .marker.patrol').length,
                     document.querySelectorAll('#map .outline').length,
                     !!document.querySelector('#scale-bar'),
                     document.querySelector('#map-note').hidden];",
            vec![],
        )
        .await;
    located.sort();
    assert_eq!(drawn[0], serde_json::json!(located), "{drawn}");
    assert_eq!(
        (&drawn[1], &drawn[2], &drawn[3], &drawn[4]),
        (&1.into(), &1.into(), &true.into(), &true.into())
    );
    b.screenshot("map").await;
    // A click opens the record.
    b.find(&format!("#map .marker.report[data-doc=\"{}\"]", located[0]))
        .await
        .click()
        .await
        .unwrap();
    b.until(
        "the record",
        &format!("return document.querySelector('#record')?.dataset.doc === '{}';", located[0]),
    )
    .await;

    // The assessment by category: the page's table is the API's answer for the same period.
    b.open("#/assess").await;
    b.find("#s-group").await.select_by_value("category").await.unwrap();
    b.until(
        "the table by category",
        "return document.querySelector('#stats-table tr[data-key=noise]');",
    )
    .await;
    let href = b.find("#s-csv").await.attr("href").await.unwrap().unwrap();
    assert!(href.contains("group=category") && href.contains("format=csv"), "{href}");
    let d = desk(&ts, "disp-1", Role::Dispatcher).await;
    let (status, api) = get(&ts, &d, &href.replace("&format=csv", "")).await;
    assert_eq!(status, 200, "{api}");
    let table = b
        .js(
            "return [...document.querySelectorAll('#stats-table tbody tr')].map(tr =>
                 [tr.dataset.key, Object.fromEntries([...tr.querySelectorAll('td[data-col]')]
                     .map(td => [td.dataset.col, Number(td.textContent)]))]);",
            vec![],
        )
        .await;
    let rows = api.as_array().unwrap();
    assert_eq!(table.as_array().unwrap().len(), rows.len(), "{table} vs {api}");
    for (shown, figures) in table.as_array().unwrap().iter().zip(rows) {
        assert_eq!(shown[0], figures["key"].as_str().unwrap_or(""), "{table} vs {api}");
        for (col, n) in shown[1].as_object().unwrap() {
            assert_eq!(n, &figures[col], "{col} of {}: {table} vs {api}", shown[0]);
        }
    }
    let noise = rows.iter().find(|r| r["key"] == "noise").unwrap();
    assert_eq!(noise["received"], 2);
    b.screenshot("assessment").await;
    let csv = ts.http.get(ts.url(&href)).header("cookie", &d.cookie).send().await.unwrap();
    assert_eq!(csv.status().as_u16(), 200);
    assert!(csv.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.text().await.unwrap().starts_with("key,received,"));

    // The read lists.
    b.open("#/patrols").await;
    b.until(
        "the patrol",
        "return document.querySelectorAll('#patrols-table tbody tr').length === 1;",
    )
    .await;
    assert!(b.text("#patrols-table tbody tr").await.contains("景区北门"));
    b.screenshot("patrols").await;
    b.open("#/cases").await;
    b.find("#cases-table").await;

    // A conflict: two dispatchers' phones dispatched the same report at once to different
    // officers; the record's page shows both values and settles it with the one chosen.
    let hq1 = Phone::new("hq-1");
    let hq2 = Phone::new("hq-2");
    enroll_as(server, &hq1, Role::Dispatcher, None, &[GRID]);
    enroll_as(server, &hq2, Role::Dispatcher, None, &[GRID]);
    let disputed = hq1.report_with(&report("两次派遣的上报", ReportCategory::Noise, None));
    hq1.accept(disputed, "受理");
    acked(&ts, &hq1, disputed).await;
    fetch(&ts, &hq2, disputed).await;
    let dispatch_to = |who: &str| Command::DispatchReport {
        assignee: who.into(),
        deadline: Timestamp::from_millis(now_ms() + 86_400_000),
        note: String::new(),
    };
    hq1.store.execute(disputed, &dispatch_to("officer-a")).unwrap();
    hq2.store.execute(disputed, &dispatch_to("officer-b")).unwrap();
    acked(&ts, &hq1, disputed).await;
    acked(&ts, &hq2, disputed).await;
    let (_, view) = get(&ts, &d, &format!("/api/v1/records/{disputed}")).await;
    let conflict = view["record"]["report"]["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "assignee")
        .unwrap_or_else(|| panic!("no conflict: {view}"))
        .clone();
    let loser = if conflict["winner"] == "officer-a" { "officer-b" } else { "officer-a" };
    b.open(&format!("#/record/{disputed}")).await;
    b.until("the conflict", "return document.querySelectorAll('#conflicts button').length >= 2;")
        .await;
    b.screenshot("record-conflict").await;
    let button = format!("#conflicts [data-field=assignee] button[data-value={loser}]");
    assert_eq!(b.text(&button).await, format!("保留：{loser}"));
    b.find(&button).await.click().await.unwrap();
    b.until(
        "the conflict settled",
        "return !document.querySelector('#conflicts [data-field=assignee]')
             && document.querySelector('#record').dataset.status === 'dispatched';",
    )
    .await;
    let (_, view) = get(&ts, &d, &format!("/api/v1/records/{disputed}")).await;
    assert_eq!(view["row"]["assignee"], loser, "{view}");
    assert!(
        view["record"]["report"]["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["field"] != "assignee"),
        "{view}"
    );

    // A photo: the resident's report holds one, uploaded as a phone uploads it; the record's
    // page shows its thumbnail, and the original on a click.
    let jpeg = {
        let img = image::RgbImage::from_fn(640, 480, |x, y| {
            image::Rgb([(x * 255 / 640) as u8, (y * 255 / 480) as u8, 120])
        });
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    };
    let photo = PhotoRef {
        hash: hex::encode(sha2::Sha256::digest(&jpeg)),
        size: jpeg.len() as i64,
        media_type: "image/jpeg".into(),
    };
    let pictured = resident.report_with(&report("有照片的上报", ReportCategory::Sanitation, None));
    resident
        .store
        .execute(pictured, &Command::AddPhoto { photo: photo.clone(), entry: None })
        .unwrap();
    acked(&ts, &resident, pictured).await;
    let put = ts
        .http
        .put(ts.url(&format!("/v1/blobs/{}", photo.hash)))
        .bearer_auth(ts.token_for(&resident.actor()))
        .header("content-range", format!("bytes 0-{}/{}", jpeg.len() - 1, jpeg.len()))
        .header("content-type", "image/jpeg")
        .body(jpeg.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status().as_u16(), 200, "{}", put.text().await.unwrap());
    b.open(&format!("#/record/{pictured}")).await;
    b.find("#photos .photo img").await;
    // The thumbnail is made after the upload: the page's <img> is there at once, its picture
    // as soon as the server has made it (a reload of the record shows it).
    let started = std::time::Instant::now();
    loop {
        let shown = b.js("const i = document.querySelector('#photos img'); return i.complete && i.naturalWidth;", vec![]).await;
        if shown.as_u64().unwrap_or(0) > 0 {
            assert!(shown.as_u64().unwrap() < 640, "a thumbnail, not the original: {shown}");
            break;
        }
        assert!(started.elapsed() < super::browser::WAIT, "no thumbnail");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        b.client.refresh().await.unwrap();
        b.find("#photos .photo img").await;
    }
    b.find("#photos .photo").await.click().await.unwrap();
    b.until(
        "the original",
        "const i = document.querySelector('#photo-viewer[open] img'); return i && i.complete && i.naturalWidth === 640;",
    )
    .await;
    b.screenshot("record-photo").await;

    // In English: the switch reloads the page in the other language.
    b.open("#/board").await;
    b.find("#rows .row").await;
    b.find("#lang").await.click().await.unwrap();
    b.until(
        "the English page",
        "return document.documentElement.lang === 'en' && !!document.querySelector('#rows .row');",
    )
    .await;
    assert_eq!(b.text("#nav a[data-route=board]").await, "Board");
    assert_eq!(b.text(".board h2").await, "Report board");
    let states: Value = b
        .js(
            "return [...document.querySelectorAll('#rows .row .status')].map(e => e.textContent);",
            vec![],
        )
        .await;
    assert!(states.as_array().unwrap().contains(&"Submitted".into()), "{states}");
    assert!(states.as_array().unwrap().contains(&"Dispatched".into()), "{states}");
    b.screenshot("board-en").await;
    b.close().await;
}
