//! The accounts' part of the conformance suite: users, codes, enrollments (a code used once,
//! an actor taken over only by its user's new device), disabling, devices, desk sessions
//! (sign-in, touch, idle expiry, revocation by id, device and user).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use super::join::futures_join;
use crate::storage::{
    DeskSignIn, Device, DeviceKind, Enrollment, FORMER_SCOPES_KEPT, NewCode, NewUser, SessionEnd,
    Storage, StorageError, StoredCode, StoredSession, Takeover,
};

const HOUR: i64 = 3_600_000;
/// When the suite's accounts begin.
pub const T0: i64 = 1_800_000_000_000;

/// A user of `role` in two grids, added at `T0`.
pub fn user(id: &str, role: &str) -> NewUser {
    NewUser {
        id: id.into(),
        role: role.into(),
        patrol: None,
        scopes: vec!["jl/cc/grid-01".into(), "jl/cc/grid-02".into()],
        at: T0,
    }
}

/// A made-up code hash: byte `n` 32 times.
fn hash(n: u8) -> Vec<u8> {
    vec![n; 32]
}

/// Code `n` for `user`, valid for an hour from `issued_at`.
pub fn code(n: u8, user: &str, issued_at: i64) -> NewCode {
    NewCode {
        hash: hash(n),
        user: user.into(),
        issued_by: "admin".into(),
        issued_at,
        expires_at: issued_at + HOUR,
    }
}

/// A keyless phone of `user`, its actor byte `actor` repeated, enrolled at `at`.
pub fn device(id: &str, user: &str, actor: u8, at: i64) -> Device {
    Device {
        id: id.into(),
        user: user.into(),
        name: format!("phone {id}"),
        actor: vec![actor; 16],
        enrolled_at: at,
        revoked_at: None,
        kind: DeviceKind::Phone,
        wipe: false,
        key: None,
    }
}

/// An enrollment of `device` with code `n` (token hash: the device id's bytes).
pub fn enrollment(n: u8, device: Device) -> Enrollment {
    Enrollment { code: hash(n), token_hash: device.id.as_bytes().to_vec(), device, takeover: None }
}

fn is_changed<T: std::fmt::Debug>(r: &Result<T, StorageError>) -> bool {
    matches!(r, Err(StorageError::Changed(_)))
}

async fn stored_code(s: &dyn Storage, n: u8) -> StoredCode {
    s.code(hash(n)).await.unwrap().unwrap()
}

/// A user is added once (a taken id changes nothing), read back as stored, listed by id, and
/// given other scopes in place.
pub async fn users_are_added_once_and_changed_in_place(s: &dyn Storage) {
    assert!(s.add_user(user("res-2", "resident")).await.unwrap());
    let mut cop = user("cop-1", "patrol");
    cop.patrol = Some("police".into());
    assert!(s.add_user(cop).await.unwrap());
    assert!(!s.add_user(user("res-2", "admin")).await.unwrap(), "the id is taken");
    let got = s.user("res-2".into()).await.unwrap().unwrap();
    assert_eq!(
        (got.role.as_str(), got.patrol, got.created_at, got.disabled_at),
        ("resident", None, T0, None),
        "the first user stays"
    );
    assert_eq!(got.scopes, ["jl/cc/grid-01", "jl/cc/grid-02"]);
    let ids: Vec<String> = s.users().await.unwrap().into_iter().map(|u| u.id).collect();
    assert_eq!(ids, ["cop-1", "res-2"]);
    assert_eq!(s.user("cop-1".into()).await.unwrap().unwrap().patrol.as_deref(), Some("police"));
    assert!(s.user("nobody".into()).await.unwrap().is_none());

    assert!(s.set_scopes("res-2".into(), vec!["jl/bs".into()], T0 + 1).await.unwrap());
    assert_eq!(s.user("res-2".into()).await.unwrap().unwrap().scopes, ["jl/bs"]);
    assert!(!s.set_scopes("nobody".into(), vec!["jl".into()], T0).await.unwrap());
}

/// Replacing a user's scopes keeps the ones replaced, newest first, once each and only the
/// newest [`FORMER_SCOPES_KEPT`]; setting the same scopes again keeps nothing.
pub async fn former_scopes_are_kept_newest_first(s: &dyn Storage) {
    s.add_user(user("lead-1", "grid_leader")).await.unwrap();
    assert!(s.former_scopes("lead-1".into()).await.unwrap().is_empty());
    assert!(s.former_scopes("nobody".into()).await.unwrap().is_empty());
    let first = user("lead-1", "grid_leader").scopes;
    let sets: Vec<Vec<String>> =
        (0..12).map(|n| vec![format!("jl/grid-{n:02}"), "jl/scenic".into()]).collect();
    s.set_scopes("lead-1".into(), sets[0].clone(), T0 + 1).await.unwrap();
    s.set_scopes("lead-1".into(), sets[0].clone(), T0 + 2).await.unwrap();
    assert_eq!(s.former_scopes("lead-1".into()).await.unwrap(), vec![first.clone()]);
    s.set_scopes("lead-1".into(), sets[1].clone(), T0 + 3).await.unwrap();
    // Back to the first set: it is the newest former one once more, and kept once.
    s.set_scopes("lead-1".into(), first.clone(), T0 + 4).await.unwrap();
    s.set_scopes("lead-1".into(), sets[2].clone(), T0 + 5).await.unwrap();
    assert_eq!(
        s.former_scopes("lead-1".into()).await.unwrap(),
        vec![first.clone(), sets[1].clone(), sets[0].clone()]
    );
    for (n, set) in sets.iter().enumerate().skip(3) {
        s.set_scopes("lead-1".into(), set.clone(), T0 + 10 + n as i64).await.unwrap();
    }
    let kept = s.former_scopes("lead-1".into()).await.unwrap();
    assert_eq!(kept.len(), FORMER_SCOPES_KEPT as usize);
    let newest: Vec<Vec<String>> = sets[2..11].iter().rev().take(8).cloned().collect();
    assert_eq!(kept, newest);
    assert_eq!(s.user("lead-1".into()).await.unwrap().unwrap().scopes, sets[11]);
}

/// Codes are found by their hash or by the first bytes of it, listed newest first (of one user
/// or all), and withdrawn keeping the first time.
pub async fn codes_are_found_by_hash_or_prefix_and_listed_newest_first(s: &dyn Storage) {
    s.add_user(user("res-1", "resident")).await.unwrap();
    s.add_user(user("res-2", "resident")).await.unwrap();
    s.add_code(code(1, "res-1", T0)).await.unwrap();
    s.add_code(code(2, "res-1", T0 + 10)).await.unwrap();
    s.add_code(code(3, "res-2", T0 + 5)).await.unwrap();
    let mut near = code(4, "res-2", T0 + 5);
    near.hash[31] = 9; // shares its first bytes with no other code but 4's own
    s.add_code(near).await.unwrap();

    let c = stored_code(s, 1).await;
    assert_eq!((c.user.as_str(), c.issued_by.as_str()), ("res-1", "admin"));
    assert_eq!(
        (c.issued_at, c.expires_at, c.used_at, c.device, c.revoked_at),
        (T0, T0 + HOUR, None, None, None)
    );
    assert!(s.code(hash(9)).await.unwrap().is_none());

    let order = |codes: Vec<StoredCode>| codes.into_iter().map(|c| c.hash[0]).collect::<Vec<_>>();
    assert_eq!(order(s.codes(None).await.unwrap()), [2, 3, 4, 1], "newest first, then by hash");
    assert_eq!(order(s.codes(Some("res-1".into())).await.unwrap()), [2, 1]);
    assert!(s.codes(Some("nobody".into())).await.unwrap().is_empty());
    assert_eq!(order(s.codes_with_prefix(vec![3; 4]).await.unwrap()), [3]);
    assert_eq!(order(s.codes_with_prefix(vec![4; 4]).await.unwrap()), [4]);
    assert!(s.codes_with_prefix(vec![5; 4]).await.unwrap().is_empty());

    assert!(s.revoke_code(hash(1), T0 + 20).await.unwrap());
    assert!(s.revoke_code(hash(1), T0 + 30).await.unwrap(), "twice is harmless");
    assert_eq!(stored_code(s, 1).await.revoked_at, Some(T0 + 20), "the first time stays");
    assert!(!s.revoke_code(hash(9), T0).await.unwrap());
}

/// An enrollment stores the device with its token's hash and marks the code used by it; the
/// code then enrolls nothing more, nor does an expired or withdrawn code, a code of a disabled
/// user, or a device of another user than the code's: each fails with `Changed` and changes
/// nothing.
pub async fn an_enrollment_uses_its_code_once(s: &dyn Storage) {
    s.add_user(user("res-1", "resident")).await.unwrap();
    s.add_user(user("res-2", "resident")).await.unwrap();
    for n in 1..=4 {
        s.add_code(code(n, "res-1", T0)).await.unwrap();
    }
    // A code of a user disabled before it was recorded: not withdrawn, yet it must not enroll.
    s.disable_user("res-2".into(), T0).await.unwrap();
    s.add_code(code(5, "res-2", T0)).await.unwrap();
    let first = device("dev-1", "res-1", 1, T0 + 1);
    s.enroll(enrollment(1, first.clone())).await.unwrap();
    let (found, owner) = s.device_by_token(b"dev-1".to_vec()).await.unwrap().unwrap();
    assert_eq!(found, first);
    assert_eq!(owner.id, "res-1");
    let used = stored_code(s, 1).await;
    assert_eq!((used.used_at, used.device.as_deref()), (Some(T0 + 1), Some("dev-1")));

    // The same code again.
    assert!(is_changed(&s.enroll(enrollment(1, device("dev-2", "res-1", 2, T0 + 2))).await));
    // Expired: at its expiry time, and after.
    assert!(is_changed(&s.enroll(enrollment(2, device("dev-3", "res-1", 3, T0 + HOUR))).await));
    // Withdrawn.
    s.revoke_code(hash(3), T0).await.unwrap();
    assert!(is_changed(&s.enroll(enrollment(3, device("dev-4", "res-1", 4, T0 + 2))).await));
    // Another user's device with this user's code.
    assert!(is_changed(&s.enroll(enrollment(4, device("dev-5", "res-2", 5, T0 + 2))).await));
    // A code of a disabled user.
    assert_eq!(stored_code(s, 5).await.revoked_at, None);
    assert!(is_changed(&s.enroll(enrollment(5, device("dev-6", "res-2", 6, T0 + 2))).await));

    let devices: Vec<String> = s.devices().await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(devices, ["dev-1"], "no refused enrollment made a device");
    for n in [2, 4, 5] {
        assert_eq!(stored_code(s, n).await.used_at, None, "code {n} stays unused");
    }
    assert!(s.device_by_token(b"dev-2".to_vec()).await.unwrap().is_none());
    // The code that was good is still good.
    s.enroll(enrollment(4, device("dev-7", "res-1", 7, T0 + 3))).await.unwrap();
}

/// Enrollments racing for one code: exactly one device is enrolled.
pub async fn a_code_enrolls_one_device_whoever_races(s: &dyn Storage) {
    s.add_user(user("res-1", "resident")).await.unwrap();
    s.add_code(code(1, "res-1", T0)).await.unwrap();
    let racers =
        (0..8u8).map(|i| s.enroll(enrollment(1, device(&format!("dev-{i}"), "res-1", i, T0 + 1))));
    let results = futures_join(racers).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(is_changed), "{results:?}");
    assert_eq!(s.devices().await.unwrap().len(), 1);
}

/// A new device of the same user takes an actor over from the device that holds it: that
/// device's row keeps a tombstone instead and is revoked. A takeover of an actor that moved
/// meanwhile, or a new device with an actor another device holds, fails with `Changed` and
/// changes nothing (the code stays unused).
pub async fn an_actor_moves_only_to_a_new_device_of_its_user(s: &dyn Storage) {
    s.add_user(user("res-1", "resident")).await.unwrap();
    s.add_user(user("res-2", "resident")).await.unwrap();
    for n in 1..=4 {
        s.add_code(code(n, if n == 4 { "res-2" } else { "res-1" }, T0)).await.unwrap();
    }
    s.enroll(enrollment(1, device("old", "res-1", 7, T0 + 1))).await.unwrap();
    assert_eq!(s.device_by_actor(vec![7; 16]).await.unwrap().unwrap().id, "old");
    assert!(s.device_by_actor(vec![8; 16]).await.unwrap().is_none());

    // An actor moved meanwhile (the takeover names the wrong one): nothing happens.
    let mut stale = enrollment(2, device("new", "res-1", 7, T0 + 2));
    stale.takeover =
        Some(Takeover { device: "old".into(), actor: vec![6; 16], tombstone: vec![0; 32] });
    assert!(is_changed(&s.enroll(stale).await));
    // Another device's actor without a takeover: refused by its uniqueness.
    assert!(is_changed(&s.enroll(enrollment(4, device("theirs", "res-2", 7, T0 + 2))).await));
    assert_eq!(stored_code(s, 2).await.used_at, None);
    assert_eq!(stored_code(s, 4).await.used_at, None);
    assert_eq!(s.devices().await.unwrap().len(), 1);

    let mut takeover = enrollment(3, device("new", "res-1", 7, T0 + 3));
    takeover.takeover =
        Some(Takeover { device: "old".into(), actor: vec![7; 16], tombstone: vec![0; 32] });
    s.enroll(takeover).await.unwrap();
    assert_eq!(s.device_by_actor(vec![7; 16]).await.unwrap().unwrap().id, "new");
    let (old, _) = s.device_by_token(b"old".to_vec()).await.unwrap().unwrap();
    assert_eq!((old.actor, old.revoked_at), (vec![0; 32], Some(T0 + 3)));
}

/// A device's public key is kept as enrolled and read back by every way a device is found:
/// by actor (how the server finds the author of a relayed change), by token, in the list.
pub async fn a_device_key_is_kept_and_found_with_the_device(s: &dyn Storage) {
    s.add_user(user("pat-1", "patrol")).await.unwrap();
    s.add_code(code(1, "pat-1", T0)).await.unwrap();
    s.add_code(code(2, "pat-1", T0)).await.unwrap();
    let keyed = Device { key: Some(vec![9; 32]), ..device("keyed", "pat-1", 7, T0 + 1) };
    s.enroll(enrollment(1, keyed.clone())).await.unwrap();
    s.enroll(enrollment(2, device("keyless", "pat-1", 8, T0 + 2))).await.unwrap();
    assert_eq!(s.device_by_actor(vec![7; 16]).await.unwrap(), Some(keyed.clone()));
    assert_eq!(s.device_by_actor(vec![8; 16]).await.unwrap().unwrap().key, None);
    let (by_token, _) = s.device_by_token(b"keyed".to_vec()).await.unwrap().unwrap();
    assert_eq!(by_token.key, Some(vec![9; 32]));
    let listed = s.devices().await.unwrap();
    assert_eq!(listed.iter().find(|d| d.id == "keyed").and_then(|d| d.key.clone()), keyed.key);
}

/// Disabling a user withdraws their unused, unexpired codes in the same transaction and counts
/// their active devices; twice keeps the first time; enabling leaves the codes withdrawn.
pub async fn disabling_a_user_withdraws_their_unused_codes(s: &dyn Storage) {
    s.add_user(user("res-1", "resident")).await.unwrap();
    s.add_user(user("res-2", "resident")).await.unwrap();
    for n in 1..=3 {
        s.add_code(code(n, "res-1", T0)).await.unwrap();
    }
    s.add_code(code(4, "res-1", T0 - 2 * HOUR)).await.unwrap(); // expired
    s.add_code(code(5, "res-2", T0)).await.unwrap();
    s.enroll(enrollment(1, device("a", "res-1", 1, T0 + 1))).await.unwrap();
    s.enroll(enrollment(2, device("b", "res-1", 2, T0 + 1))).await.unwrap();
    s.revoke_device("b".into(), T0 + 2, false).await.unwrap();

    let d = s.disable_user("res-1".into(), T0 + 10).await.unwrap().unwrap();
    assert_eq!((d.at, d.devices, d.codes_withdrawn), (T0 + 10, 1, 1));
    assert_eq!(stored_code(s, 3).await.revoked_at, Some(T0 + 10));
    assert_eq!(stored_code(s, 4).await.revoked_at, None, "an expired code is left alone");
    assert_eq!(stored_code(s, 5).await.revoked_at, None, "another user's code is left alone");
    let again = s.disable_user("res-1".into(), T0 + 20).await.unwrap().unwrap();
    assert_eq!((again.at, again.codes_withdrawn), (T0 + 10, 0), "twice keeps the first time");
    let (_, u) = s.device_by_token(b"a".to_vec()).await.unwrap().unwrap();
    assert_eq!(u.disabled_at, Some(T0 + 10), "authentication reads the user's state");

    assert!(s.enable_user("res-1".into(), T0 + 30).await.unwrap());
    assert_eq!(s.user("res-1".into()).await.unwrap().unwrap().disabled_at, None);
    assert_eq!(stored_code(s, 3).await.revoked_at, Some(T0 + 10), "withdrawn stays withdrawn");
    assert!(s.disable_user("nobody".into(), T0).await.unwrap().is_none());
    assert!(!s.enable_user("nobody".into(), T0).await.unwrap());
}

/// Devices are listed newest first, found by token with their user, and revoked keeping the
/// first time.
pub async fn devices_are_listed_found_and_revoked(s: &dyn Storage) {
    s.add_user(user("res-1", "resident")).await.unwrap();
    for n in 1..=3 {
        s.add_code(code(n, "res-1", T0)).await.unwrap();
    }
    s.enroll(enrollment(1, device("b", "res-1", 1, T0 + 1))).await.unwrap();
    s.enroll(enrollment(2, device("c", "res-1", 2, T0 + 2))).await.unwrap();
    s.enroll(enrollment(3, device("a", "res-1", 3, T0 + 2))).await.unwrap();
    let ids: Vec<String> = s.devices().await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(ids, ["a", "c", "b"], "newest first, then by id");
    let (d, u) = s.device_by_token(b"c".to_vec()).await.unwrap().unwrap();
    assert_eq!((d.name.as_str(), d.actor, u.id.as_str()), ("phone c", vec![2; 16], "res-1"));
    assert!(s.device_by_token(b"nobody".to_vec()).await.unwrap().is_none());

    assert!(s.revoke_device("c".into(), T0 + 5, false).await.unwrap());
    let (d, _) = s.device_by_token(b"c".to_vec()).await.unwrap().unwrap();
    assert!(!d.wipe, "revoked, not to be wiped");
    // A wipe may be asked later; asked once, revoking again does not take it back.
    assert!(s.revoke_device("c".into(), T0 + 6, true).await.unwrap(), "twice is harmless");
    assert!(s.revoke_device("c".into(), T0 + 7, false).await.unwrap());
    let (d, _) = s.device_by_token(b"c".to_vec()).await.unwrap().unwrap();
    assert_eq!((d.revoked_at, d.wipe), (Some(T0 + 5), true), "the first time stays");
    assert!(s.devices().await.unwrap().iter().any(|d| d.id == "c" && d.wipe));
    assert!(!s.revoke_device("nobody".into(), T0, true).await.unwrap());

    // The authors of a page, in one read: revoked ones too, unknown actors left out.
    let mut found = s.devices_by_actors(vec![vec![3; 16], vec![9; 16], vec![2; 16]]).await.unwrap();
    found.sort_by(|(a, _), (b, _)| a.id.cmp(&b.id));
    let found: Vec<(&str, Option<i64>, &str)> =
        found.iter().map(|(d, u)| (d.id.as_str(), d.revoked_at, u.id.as_str())).collect();
    assert_eq!(found, [("a", None, "res-1"), ("c", Some(T0 + 5), "res-1")]);
    assert!(s.devices_by_actors(vec![]).await.unwrap().is_empty());
}

/// The peer key is kept once, whoever offers another; devices revoked, and those of disabled
/// users, are listed from a time on.
pub async fn the_peer_key_is_kept_once_and_revocations_listed(s: &dyn Storage) {
    assert_eq!(s.peer_key("aa".into()).await.unwrap(), "aa");
    assert_eq!(s.peer_key("bb".into()).await.unwrap(), "aa", "the first key stays");
    s.add_user(user("res-1", "resident")).await.unwrap();
    s.add_user(user("res-2", "resident")).await.unwrap();
    for n in 1..=3 {
        s.add_code(code(n, if n == 3 { "res-2" } else { "res-1" }, T0)).await.unwrap();
    }
    s.enroll(enrollment(1, device("b", "res-1", 1, T0 + 1))).await.unwrap();
    s.enroll(enrollment(2, device("a", "res-1", 2, T0 + 1))).await.unwrap();
    s.enroll(enrollment(3, device("c", "res-2", 3, T0 + 1))).await.unwrap();
    assert!(s.revoked_since(T0).await.unwrap().is_empty());
    s.revoke_device("a".into(), T0 + 5, false).await.unwrap();
    s.disable_user("res-2".into(), T0 + 7).await.unwrap();
    assert_eq!(s.revoked_since(T0).await.unwrap(), ["a", "c"]);
    assert_eq!(s.revoked_since(T0 + 6).await.unwrap(), ["c"]);
    assert!(s.revoked_since(T0 + 8).await.unwrap().is_empty());
}

/// A desk sign-in of a desk device for `user` with code `n`, as session `ses-<id>` whose token
/// hash is the device id's bytes reversed.
fn desk_sign_in(n: u8, id: &str, user: &str, actor: u8, at: i64) -> DeskSignIn {
    let mut d = device(id, user, actor, at);
    d.kind = DeviceKind::Desk;
    d.name = format!("desk {id}");
    let token_hash = id.bytes().rev().collect();
    DeskSignIn { enrollment: enrollment(n, d), session: format!("ses-{id}"), token_hash }
}

fn desk_token(id: &str) -> Vec<u8> {
    id.bytes().rev().collect()
}

async fn session(s: &dyn Storage, id: &str) -> StoredSession {
    s.session_by_token(desk_token(id)).await.unwrap().unwrap().0
}

/// A desk sign-in stores its desk device and session together and uses its code like an
/// enrollment: the code signs in once; a refused sign-in stores neither. The session is found
/// by its token's hash with its device and user, and listed newest first.
pub async fn a_desk_sign_in_uses_its_code_once_and_opens_one_session(s: &dyn Storage) {
    s.add_user(user("disp-1", "dispatcher")).await.unwrap();
    for n in 1..=3 {
        s.add_code(code(n, "disp-1", T0)).await.unwrap();
    }
    s.sign_in(desk_sign_in(1, "d1", "disp-1", 1, T0 + 1)).await.unwrap();
    assert!(is_changed(&s.sign_in(desk_sign_in(1, "d2", "disp-1", 2, T0 + 2)).await));
    assert!(is_changed(&s.sign_in(desk_sign_in(2, "d3", "disp-1", 3, T0 + HOUR)).await));
    assert!(s.session_by_token(desk_token("d2")).await.unwrap().is_none());
    assert!(s.session_by_token(desk_token("d3")).await.unwrap().is_none());
    assert_eq!(s.devices().await.unwrap().len(), 1, "no refused sign-in made a device");

    let (ses, dev, u) = s.session_by_token(desk_token("d1")).await.unwrap().unwrap();
    assert_eq!(
        ses,
        StoredSession {
            id: "ses-d1".into(),
            device: "d1".into(),
            user: "disp-1".into(),
            created_at: T0 + 1,
            last_seen_at: T0 + 1,
            ended: None,
        }
    );
    assert_eq!((dev.kind, dev.actor, dev.revoked_at), (DeviceKind::Desk, vec![1; 16], None));
    assert_eq!(u.role, "dispatcher");
    let used = stored_code(s, 1).await;
    assert_eq!((used.used_at, used.device.as_deref()), (Some(T0 + 1), Some("d1")));
    assert!(s.device_by_token(desk_token("d1")).await.unwrap().is_none(), "not a bearer token");

    s.sign_in(desk_sign_in(3, "d0", "disp-1", 4, T0 + 5)).await.unwrap();
    let ids: Vec<String> = s.sessions().await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(ids, ["ses-d0", "ses-d1"], "newest first");
    // A phone enrolled as before is a phone.
    s.add_code(code(4, "disp-1", T0)).await.unwrap();
    s.enroll(enrollment(4, device("p1", "disp-1", 9, T0 + 6))).await.unwrap();
    let (phone, _) = s.device_by_token(b"p1".to_vec()).await.unwrap().unwrap();
    assert_eq!(phone.kind, DeviceKind::Phone);
}

/// Touching an open session moves its last use forward only; an ended one is not touched.
pub async fn a_session_is_touched_forward_only_while_open(s: &dyn Storage) {
    s.add_user(user("disp-1", "dispatcher")).await.unwrap();
    s.add_code(code(1, "disp-1", T0)).await.unwrap();
    s.sign_in(desk_sign_in(1, "d1", "disp-1", 1, T0)).await.unwrap();
    assert!(s.touch_session("ses-d1".into(), T0 + 60_000).await.unwrap());
    assert!(s.touch_session("ses-d1".into(), T0 + 30_000).await.unwrap());
    assert_eq!(session(s, "d1").await.last_seen_at, T0 + 60_000, "never backwards");
    assert!(!s.touch_session("ses-nobody".into(), T0).await.unwrap());
    assert!(s.end_session("ses-d1".into(), T0 + 70_000, SessionEnd::SignedOut).await.unwrap());
    assert!(!s.touch_session("ses-d1".into(), T0 + 80_000).await.unwrap(), "ended");
    assert_eq!(session(s, "d1").await.last_seen_at, T0 + 60_000);
}

/// Sessions last used before a time are ended as idle, with their desk devices; the others
/// stay open.
pub async fn idle_sessions_end_with_their_devices(s: &dyn Storage) {
    s.add_user(user("disp-1", "dispatcher")).await.unwrap();
    for n in 1..=3 {
        s.add_code(code(n, "disp-1", T0)).await.unwrap();
    }
    s.sign_in(desk_sign_in(1, "old", "disp-1", 1, T0)).await.unwrap();
    s.sign_in(desk_sign_in(2, "busy", "disp-1", 2, T0)).await.unwrap();
    s.sign_in(desk_sign_in(3, "gone", "disp-1", 3, T0)).await.unwrap();
    s.touch_session("ses-busy".into(), T0 + 10 * HOUR).await.unwrap();
    s.end_session("ses-gone".into(), T0 + 1, SessionEnd::SignedOut).await.unwrap();

    assert_eq!(s.end_idle_sessions(T0 + 5 * HOUR, T0 + 11 * HOUR).await.unwrap(), 1);
    assert_eq!(session(s, "old").await.ended, Some((T0 + 11 * HOUR, SessionEnd::Idle)));
    assert_eq!(session(s, "busy").await.ended, None);
    assert_eq!(session(s, "gone").await.ended, Some((T0 + 1, SessionEnd::SignedOut)), "kept");
    let (_, old, _) = s.session_by_token(desk_token("old")).await.unwrap().unwrap();
    assert_eq!(old.revoked_at, Some(T0 + 11 * HOUR), "its desk device is revoked");
    let (_, busy, _) = s.session_by_token(desk_token("busy")).await.unwrap().unwrap();
    assert_eq!(busy.revoked_at, None);
    assert_eq!(s.end_idle_sessions(T0 + 5 * HOUR, T0 + 12 * HOUR).await.unwrap(), 0);
}

/// Ending a session keeps the first end and revokes its desk device; revoking a desk device
/// ends its session; disabling a user ends all their open sessions and revokes their desk
/// devices, and leaves other users' sessions open.
pub async fn sessions_end_when_revoked_by_id_device_or_user(s: &dyn Storage) {
    s.add_user(user("disp-1", "dispatcher")).await.unwrap();
    s.add_user(user("disp-2", "dispatcher")).await.unwrap();
    for n in 1..=4 {
        s.add_code(code(n, "disp-1", T0)).await.unwrap();
    }
    s.add_code(code(5, "disp-2", T0)).await.unwrap();
    for (n, id) in [(1, "a"), (2, "b"), (3, "c"), (4, "d")] {
        s.sign_in(desk_sign_in(n, id, "disp-1", n, T0)).await.unwrap();
    }
    s.sign_in(desk_sign_in(5, "e", "disp-2", 5, T0)).await.unwrap();

    assert!(s.end_session("ses-a".into(), T0 + 1, SessionEnd::Revoked).await.unwrap());
    assert!(s.end_session("ses-a".into(), T0 + 2, SessionEnd::SignedOut).await.unwrap());
    assert_eq!(session(s, "a").await.ended, Some((T0 + 1, SessionEnd::Revoked)), "first end");
    let (_, a, _) = s.session_by_token(desk_token("a")).await.unwrap().unwrap();
    assert_eq!(a.revoked_at, Some(T0 + 1));
    assert!(!s.end_session("ses-nobody".into(), T0, SessionEnd::Revoked).await.unwrap());

    assert!(s.revoke_device("b".into(), T0 + 3, false).await.unwrap());
    assert_eq!(session(s, "b").await.ended, Some((T0 + 3, SessionEnd::DeviceRevoked)));

    let d = s.disable_user("disp-1".into(), T0 + 4).await.unwrap().unwrap();
    assert_eq!(d.sessions_ended, 2, "c and d were open");
    for id in ["c", "d"] {
        assert_eq!(session(s, id).await.ended, Some((T0 + 4, SessionEnd::UserDisabled)));
        let (_, dev, _) = s.session_by_token(desk_token(id)).await.unwrap().unwrap();
        assert_eq!(dev.revoked_at, Some(T0 + 4), "{id}'s desk device");
    }
    assert_eq!(session(s, "a").await.ended, Some((T0 + 1, SessionEnd::Revoked)), "kept");
    assert_eq!(session(s, "e").await.ended, None, "another user's session stays open");
    s.enable_user("disp-1".into(), T0 + 5).await.unwrap();
    assert!(session(s, "c").await.ended.is_some(), "enabling opens no session again");
}
