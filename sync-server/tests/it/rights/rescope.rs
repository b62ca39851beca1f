//! A change of a user's scopes costs their phone what changed: the restarted catch-up sends
//! whole only what the former scopes did not let it read, and the log resumes where the phone
//! was, so what changed since in the documents it held still arrives. Where the server cannot
//! tell what the phone holds, the catch-up is whole, as before.

use std::collections::BTreeSet;

use fieldsync_core::policy::Role;

use super::*;

/// A grid beside [`GRID`].
const NEXT: &str = "jl/changchun/chaoyang/yongchang/xinhua/grid-08";
/// A grid nobody in these tests reads but its residents.
const FAR: &str = "jl/changchun/jingyue/grid-99";

/// What one pull to the end of the feed brought.
struct Pulled {
    /// Documents sent whole.
    whole: BTreeSet<DocId>,
    /// Documents sent as changes (the log).
    changed: BTreeSet<DocId>,
    /// The last cursor.
    cursor: String,
    /// The first answer said the user's rights had changed.
    rescoped: bool,
    /// The first answer said they only grew.
    widened: bool,
    /// Answers it took.
    requests: usize,
}

/// Follows the feed from `cursor` to its end in pages of `page_bytes`, merging every piece into
/// `phone`.
async fn pull_all(server: &TestServer, phone: &Phone, cursor: &str, page_bytes: u32) -> Pulled {
    let mut pulled = Pulled {
        whole: BTreeSet::new(),
        changed: BTreeSet::new(),
        cursor: cursor.to_string(),
        rescoped: false,
        widened: false,
        requests: 0,
    };
    loop {
        let mut req = phone.request(Some(server.epoch()), &pulled.cursor, vec![]);
        req.page_bytes = page_bytes;
        let resp = server.sync(&req).await.unwrap();
        pulled.rescoped |= pulled.requests == 0 && resp.rescoped;
        pulled.widened |= pulled.requests == 0 && resp.widened;
        assert!(pulled.rescoped || !resp.widened, "widened only with rescoped, first");
        pulled.requests += 1;
        for d in &resp.docs {
            phone.store.merge_remote(d.doc, &d.bytes).unwrap();
            if d.whole { &mut pulled.whole } else { &mut pulled.changed }.insert(d.doc);
        }
        pulled.cursor = resp.cursor;
        if !resp.more {
            return pulled;
        }
        assert!(pulled.requests < 100, "the feed never ended");
    }
}

/// Residents in [`GRID`], [`NEXT`] and [`FAR`], each with `n` acknowledged reports there.
async fn residents(server: &TestServer, n: usize) -> [(Phone, Vec<DocId>); 3] {
    let s = server.running.server();
    let mut out = Vec::new();
    for (name, grid) in [("resident-a", GRID), ("resident-b", NEXT), ("resident-c", FAR)] {
        let phone = Phone::new(name);
        enroll_as(s, &phone, Role::Resident, None, &[grid]);
        let mut ids = Vec::new();
        for _ in 0..n {
            let id = phone.store.create(&report_in(grid)).unwrap();
            acked(server, &phone, id).await;
            ids.push(id);
        }
        out.push((phone, ids));
    }
    out.try_into().ok().unwrap()
}

/// The phone of `lead-zhou`, a grid leader of [`GRID`].
fn leader(server: &TestServer) -> Phone {
    let lead = Phone::new("lead-zhou");
    enroll_as(server.running.server(), &lead, Role::GridLeader, None, &[GRID]);
    lead
}

fn set(ids: &[DocId]) -> BTreeSet<DocId> {
    ids.iter().copied().collect()
}

async fn a_scope_added_sends_whole_only_what_the_phone_could_not_read(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let [(res_a, held), (res_b, new), _] = residents(&server, 3).await;
    let lead = leader(&server);
    let first = pull_all(&server, &lead, "", 0).await;
    assert_eq!(first.whole, set(&held));

    // After the phone's last sync a report it holds changes and a new one is made in its grid.
    let comment = Command::CommentReport { text: "还在施工".into() };
    res_a.store.execute(held[0], &comment).unwrap();
    acked(&server, &res_a, held[0]).await;
    let later = res_a.store.create(&report_in(GRID)).unwrap();
    acked(&server, &res_a, later).await;
    s.accounts().set_scopes("lead-zhou", &[GRID.into(), NEXT.into()]).unwrap();

    // Pages of the smallest size: the catch-up after the change spans several answers.
    let after = pull_all(&server, &lead, &first.cursor, protocol::limits::PAGE_BYTES_MIN).await;
    assert!(after.rescoped && after.widened);
    assert_eq!(after.whole, set(&new), "only the next grid's reports are sent whole");
    assert_eq!(after.changed, set(&[held[0], later]), "the rest comes from the log");
    assert!(after.cursor.starts_with('l'), "{}", after.cursor);
    for (phone, ids) in [(&res_a, &held), (&res_b, &new)] {
        for id in ids {
            assert_eq!(lead.heads(*id), phone.heads(*id));
        }
    }
    assert_eq!(lead.heads(later), res_a.heads(later));

    // Nothing more, and no second restart.
    let again = pull_all(&server, &lead, &after.cursor, 0).await;
    assert!(!again.rescoped && again.whole.is_empty() && again.changed.is_empty());
}
on_both!(a_scope_added_sends_whole_only_what_the_phone_could_not_read);

async fn scopes_replaced_twice_still_count_what_the_phone_held(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let [(_, held), (_, new), _] = residents(&server, 2).await;
    let lead = leader(&server);
    let first = pull_all(&server, &lead, "", 0).await;
    assert_eq!(first.whole, set(&held));
    // Moved to the next grid, then given both, before the phone synced again.
    s.accounts().set_scopes("lead-zhou", &[NEXT.into()]).unwrap();
    s.accounts().set_scopes("lead-zhou", &[NEXT.into(), GRID.into()]).unwrap();
    let after = pull_all(&server, &lead, &first.cursor, 0).await;
    assert!(after.rescoped && after.widened);
    assert_eq!(after.whole, set(&new));

    // Taken off the first grid: nothing new to send, and not a widening (the phone asks what
    // it may no longer read).
    s.accounts().set_scopes("lead-zhou", &[NEXT.into()]).unwrap();
    let narrowed = pull_all(&server, &lead, &after.cursor, 0).await;
    assert!(narrowed.rescoped && !narrowed.widened);
    assert!(narrowed.whole.is_empty() && narrowed.changed.is_empty());
}
on_both!(scopes_replaced_twice_still_count_what_the_phone_held);

async fn a_catch_up_cut_short_restarts_whole(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    // More reports than one page of the smallest size holds.
    let [(_, held), (_, new), _] = residents(&server, 30).await;
    let lead = leader(&server);
    // One page of the smallest size: the catch-up is not over.
    let mut req = lead.request(Some(server.epoch()), "", vec![]);
    req.page_bytes = 1;
    let resp = server.sync(&req).await.unwrap();
    assert!(resp.more && resp.cursor.starts_with('c'), "{}", resp.cursor);
    s.accounts().set_scopes("lead-zhou", &[GRID.into(), NEXT.into()]).unwrap();
    let after = pull_all(&server, &lead, &resp.cursor, 0).await;
    assert!(after.rescoped && !after.widened, "what the phone holds is not known");
    assert_eq!(after.whole, &set(&held) | &set(&new), "what it may read now, whole");
}
on_both!(a_catch_up_cut_short_restarts_whole);

async fn a_forged_rescope_cursor_gets_nothing_unreadable(backend: Backend) {
    let server = start_on(backend).await;
    let s = server.running.server();
    let [(_, held), (_, new), _] = residents(&server, 2).await;
    let lead = leader(&server);
    s.accounts().set_scopes("lead-zhou", &[GRID.into(), NEXT.into()]).unwrap();
    let first = pull_all(&server, &lead, "", 0).await;
    assert_eq!(first.whole, &set(&held) | &set(&new));
    let (_, view) = first.cursor.split_once('~').unwrap();

    // Rights the user never had: the catch-up restarts whole, and only with what they may read.
    let forged = format!("r0.0.0123456789abcdef~{view}");
    let got = pull_all(&server, &lead, &forged, 0).await;
    assert_eq!(got.whole, &set(&held) | &set(&new));
    // Malformed ones are refused.
    for bad in ["r0.0~", "r0.0.xyz", "r0.0.0123456789abcdef.1"] {
        let (status, body) =
            server.sync(&lead.request(Some(server.epoch()), bad, vec![])).await.unwrap_err();
        assert_eq!((status, body.code.as_str()), (400, "invalid_cursor"), "{bad}");
    }
}
on_both!(a_forged_rescope_cursor_gets_nothing_unreadable);
