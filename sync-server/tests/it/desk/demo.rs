//! `--demo`: an empty server fills a demonstration street, and the dispatcher's code opens a
//! command centre with reports in several states, some of them overdue.

use std::collections::HashSet;

use super::{get, sign_in};
use crate::common::{Backend, on_both, start_on_with};

async fn a_demo_server_opens_a_working_command_centre(backend: Backend) {
    let ts = start_on_with(backend, |c| fieldsync_server::ServerConfig { demo: true, ..c }).await;
    let code = ts.running.server().demo_code().expect("a demo code").code.clone();
    let desk = sign_in(&ts, &code).await;
    let (status, page) = get(&ts, &desk, "/api/v1/reports?limit=50").await;
    assert_eq!(status, 200, "{page}");
    let items = page["items"].as_array().expect("items");
    assert_eq!(items.len(), 6, "{page}");
    let statuses: HashSet<&str> = items.iter().filter_map(|r| r["status"].as_str()).collect();
    for s in ["submitted", "dispatched", "resolved", "confirmed"] {
        assert!(statuses.contains(s), "no {s} report in {statuses:?}");
    }
    assert!(items.iter().any(|r| r["overdue"] == true), "none overdue: {page}");
    assert!(items.iter().any(|r| r["supervisions"] == 1), "none supervised: {page}");
    let (_, patrols) = get(&ts, &desk, "/api/v1/patrols").await;
    assert_eq!(patrols["items"].as_array().map(Vec::len), Some(1), "{patrols}");
    let (_, cases) = get(&ts, &desk, "/api/v1/cases").await;
    assert_eq!(cases["items"].as_array().map(Vec::len), Some(1), "{cases}");
}
on_both!(a_demo_server_opens_a_working_command_centre);
