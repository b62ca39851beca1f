//! The desk API's parts the board's page needs beyond the listings: the grid outlines of the
//! server's `--grid-outlines` file, cut to the reader's scopes (`GET /api/v1/grids`), and the
//! counters of a filter (`GET /api/v1/reports/counts`), cut to the reader's scopes and equal to
//! what the listing holds.

use fieldsync_core::model::{NewRecord, NewReport, ReportCategory};
use fieldsync_core::policy::Role;
use fieldsync_server::ServerConfig;
use fieldsync_server::grids::GridOutlines;

use super::*;
use crate::common::{Backend, GRID, Phone, enroll_as, on_both, start_on_with};

const OTHER: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";
const STREET: &str = "jl/changchun/chaoyang/yongchang/xinhua";

fn outlines() -> GridOutlines {
    let square = "[[[125.31, 43.87], [125.33, 43.87], [125.33, 43.89], [125.31, 43.87]]]";
    let feature = |name: &str, scope: &str| {
        format!(
            r#"{{"type": "Feature", "properties": {{"name": "{name}", "scope": "{scope}"}},
                "geometry": {{"type": "Polygon", "coordinates": {square}}}}}"#
        )
    };
    let text = format!(
        r#"{{"type": "FeatureCollection", "features": [{}, {}, {}]}}"#,
        feature("七网格", GRID),
        feature("八网格", OTHER),
        feature("新华社区", STREET)
    );
    GridOutlines::parse(&text).unwrap()
}

fn names(collection: &Value) -> Vec<&str> {
    collection["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["properties"]["name"].as_str().unwrap())
        .collect()
}

async fn outlines_and_counters_are_cut_to_the_readers_scopes(backend: Backend) {
    let ts =
        start_on_with(backend, |c| ServerConfig { grid_outlines: Some(outlines()), ..c }).await;
    let server = ts.running.server();

    // A dispatcher of the street sees every outline; a grid leader their grid and the street.
    server.accounts().add_user("street-disp", Role::Dispatcher, None, &[STREET.into()]).unwrap();
    let street = desk(&ts, "street-disp", Role::Dispatcher).await;
    let leader = desk(&ts, "lead-7", Role::GridLeader).await;
    let (status, all) = get(&ts, &street, "/api/v1/grids").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(names(&all), ["七网格", "八网格", "新华社区"]);
    assert_eq!(all["features"][0]["geometry"]["type"], "MultiPolygon");
    assert_eq!(
        all["features"][0]["geometry"]["coordinates"][0][0][1],
        serde_json::json!([125.33, 43.87])
    );
    let (_, own) = get(&ts, &leader, "/api/v1/grids").await;
    assert_eq!(names(&own), ["七网格", "新华社区"]);
    assert_eq!(ts.http.get(ts.url("/api/v1/grids")).send().await.unwrap().status().as_u16(), 401);

    // Reports in both grids: each reader counts what their listing holds.
    let resident = Phone::new("resident-1");
    enroll_as(server, &resident, Role::Resident, None, &[GRID, OTHER]);
    for (scope, category) in [
        (GRID, ReportCategory::Noise),
        (GRID, ReportCategory::Sanitation),
        (OTHER, ReportCategory::Noise),
    ] {
        resident.report_with(&NewRecord::Report {
            report: NewReport {
                scope: scope.into(),
                category,
                title: "t".into(),
                description: String::new(),
                location: None,
                photos: vec![],
            },
        });
    }
    sync(&ts, &resident).await;
    for (reader, query, want) in [
        (&street, "", 3),
        (&leader, "", 2),
        (&street, "?category=noise", 2),
        (&leader, "?category=noise", 1),
        (&street, &format!("?scope={OTHER}") as &str, 1),
        (&street, "?status=accepted", 0),
    ] {
        let (status, counts) = get(&ts, reader, &format!("/api/v1/reports/counts{query}")).await;
        assert_eq!(status, 200, "{counts}");
        assert_eq!(counts["reports"], want, "{query}: {counts}");
        let (_, page) = get(&ts, reader, &format!("/api/v1/reports{query}")).await;
        assert_eq!(page["items"].as_array().unwrap().len(), want as usize, "{query}");
        if want > 0 {
            assert_eq!(counts["statuses"][0]["status"], "submitted", "{counts}");
            assert_eq!(counts["statuses"][0]["overdue"], 0, "{counts}");
        }
    }
    let (status, e) = get(&ts, &street, "/api/v1/reports/counts?after=x").await;
    assert_eq!((status, err_code(&e)), (400, "invalid_request"), "{e}");
}
on_both!(outlines_and_counters_are_cut_to_the_readers_scopes);
