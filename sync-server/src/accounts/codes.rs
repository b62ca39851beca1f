//! What operators see of enrolment codes and how they withdraw one. Codes are stored only as
//! hashes, so a code is shown by a short id: the first 8 hex digits of its stored hash. That
//! is enough to tell an operator's codes apart and to name one, and too little to find the
//! code from it (2^18 codes share each id, far more than the failure budget lets anyone try).

use std::fmt;

use fieldsync_core::time::now_ms;
use rusqlite::{OptionalExtension, params};

use super::{AccountError, Accounts, invalid, secret, storage};

/// Hex digits of a code's id.
const ID_HEX: usize = 8;

/// Where a code is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeState {
    /// It would enrol a device now.
    Unused,
    /// It enrolled a device.
    Used,
    /// Its time ran out unused.
    Expired,
    /// An operator withdrew it (or disabled its user) before it was used.
    Revoked,
}

impl fmt::Display for CodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodeState::Unused => "unused",
            CodeState::Used => "used",
            CodeState::Expired => "expired",
            CodeState::Revoked => "revoked",
        })
    }
}

/// An enrolment code as an operator sees it (never the code itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// Its short id (8 hex digits of its stored hash).
    pub id: String,
    /// The user it enrols a device for.
    pub user: String,
    /// Who issued it.
    pub issued_by: String,
    /// When it was issued, ms since the Unix epoch.
    pub issued_at: i64,
    /// When it stops working.
    pub expires_at: i64,
    /// When it was used, and the device it enrolled.
    pub used: Option<(i64, String)>,
    /// When it was withdrawn.
    pub revoked_at: Option<i64>,
}

impl CodeInfo {
    /// Its state at `now` (ms since the Unix epoch).
    pub fn state(&self, now: i64) -> CodeState {
        if self.used.is_some() {
            CodeState::Used
        } else if self.revoked_at.is_some() {
            CodeState::Revoked
        } else if now >= self.expires_at {
            CodeState::Expired
        } else {
            CodeState::Unused
        }
    }
}

const COLUMNS: &str =
    "hex(code_hash), user_id, issued_by, issued_at, expires_at, used_at, device_id, revoked_at";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CodeInfo> {
    let hash: String = r.get(0)?;
    let used_at: Option<i64> = r.get(5)?;
    let device: Option<String> = r.get(6)?;
    Ok(CodeInfo {
        id: hash.get(..ID_HEX).unwrap_or(&hash).to_ascii_lowercase(),
        user: r.get(1)?,
        issued_by: r.get(2)?,
        issued_at: r.get(3)?,
        expires_at: r.get(4)?,
        used: used_at.map(|t| (t, device.unwrap_or_default())),
        revoked_at: r.get(7)?,
    })
}

impl Accounts {
    /// Enrolment codes, newest first: of `user` only if given; unused ones only unless `all`.
    pub fn codes(&self, user: Option<&str>, all: bool) -> Result<Vec<CodeInfo>, AccountError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM enrol_codes WHERE (?1 IS NULL OR user_id = ?1) \
                 ORDER BY issued_at DESC, code_hash"
            ))
            .map_err(storage)?;
        let now = now_ms();
        let rows = stmt.query_map(params![user], row).map_err(storage)?;
        let mut out = Vec::new();
        for code in rows {
            let code = code.map_err(storage)?;
            if all || code.state(now) == CodeState::Unused {
                out.push(code);
            }
        }
        Ok(out)
    }

    /// Withdraws an unused code, named by its id (from [`Accounts::codes`]) or by the code
    /// itself; returns it as it is now. Withdrawing twice is harmless; a used code cannot be
    /// withdrawn (revoke its device instead).
    pub fn revoke_code(&self, id_or_code: &str) -> Result<CodeInfo, AccountError> {
        let conn = self.conn()?;
        let hash = self.code_hash(&conn, id_or_code.trim())?;
        let find = |conn: &rusqlite::Connection| {
            conn.query_row(
                &format!("SELECT {COLUMNS} FROM enrol_codes WHERE code_hash = ?1"),
                [&hash],
                row,
            )
            .map_err(storage)
        };
        let code = find(&conn)?;
        if let Some((at, device)) = &code.used {
            return Err(invalid(format!(
                "code {} enrolled device {device} on {}; revoke the device instead",
                code.id,
                fieldsync_core::time::format_ms(*at)
            )));
        }
        conn.execute(
            "UPDATE enrol_codes SET revoked_at = coalesce(revoked_at, ?2) WHERE code_hash = ?1",
            params![hash, now_ms()],
        )
        .map_err(storage)?;
        find(&conn)
    }

    /// The stored hash of the code `id_or_code` names: a code as typed, or a code's id.
    fn code_hash(
        &self,
        conn: &rusqlite::Connection,
        id_or_code: &str,
    ) -> Result<Vec<u8>, AccountError> {
        if let Ok(canonical) = secret::normalize_code(id_or_code) {
            let hash = secret::hash(&canonical);
            let known = conn
                .query_row("SELECT 1 FROM enrol_codes WHERE code_hash = ?1", [&hash], |_| Ok(()))
                .optional()
                .map_err(storage)?;
            return known.map(|()| hash).ok_or_else(|| invalid("no such enrolment code"));
        }
        if id_or_code.len() != ID_HEX || !id_or_code.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid(format!(
                "{id_or_code:?} is neither a code (10 letters and digits) nor a code's id \
                 ({ID_HEX} hex digits, from `enroll-code list`)"
            )));
        }
        let mut stmt = conn
            .prepare("SELECT code_hash FROM enrol_codes WHERE substr(hex(code_hash), 1, 8) = ?1")
            .map_err(storage)?;
        let found: Vec<Vec<u8>> = stmt
            .query_map([id_or_code.to_ascii_uppercase()], |r| r.get(0))
            .map_err(storage)?
            .collect::<Result<_, _>>()
            .map_err(storage)?;
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(invalid(format!("no enrolment code has the id {id_or_code}"))),
            _ => Err(invalid(format!(
                "{} codes have the id {id_or_code}; name the code itself",
                found.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use fieldsync_core::policy::{Profile, Role};

    use super::*;

    #[test]
    fn codes_are_listed_by_id_and_state_and_withdrawn_by_id_or_code() {
        let dir = tempfile::tempdir().unwrap();
        let a = Accounts::open(&dir.path().join("server.db")).unwrap();
        let admin =
            Profile { user: "admin".into(), role: Role::Admin, patrol: None, scopes: vec![] };
        for u in ["res-1", "res-2"] {
            a.add_user(u, Role::Resident, None, &["jl/cc/grid-01".into()]).unwrap();
        }
        let hour = Duration::from_secs(3600);
        let used = a.issue_code("res-1", &admin, hour).unwrap().code;
        let device = a.enroll(&used, "phone", None).unwrap().device.id;
        let expired = a.issue_code("res-1", &admin, Duration::ZERO).unwrap().code;
        let by_id = a.issue_code("res-1", &admin, hour).unwrap().code;
        let by_code = a.issue_code("res-2", &admin, hour).unwrap().code;

        let unused = a.codes(None, false).unwrap();
        assert_eq!(unused.len(), 2);
        assert!(unused.iter().all(|c| c.id.len() == 8 && !by_id.contains(&c.id)));
        let all = a.codes(Some("res-1"), true).unwrap();
        let now = now_ms();
        let mut states: Vec<String> = all.iter().map(|c| c.state(now).to_string()).collect();
        states.sort();
        assert_eq!(states, ["expired", "unused", "used"]);
        let used_info = all.iter().find(|c| c.state(now) == CodeState::Used).unwrap();
        assert_eq!(used_info.used.as_ref().map(|u| u.1.as_str()), Some(device.as_str()));

        let target = a.codes(Some("res-1"), false).unwrap().remove(0);
        let revoked = a.revoke_code(&target.id.to_uppercase()).unwrap();
        assert_eq!(revoked.state(now_ms()), CodeState::Revoked);
        assert_eq!(a.revoke_code(&target.id).unwrap().revoked_at, revoked.revoked_at);
        assert_eq!(a.enroll(&by_id, "x", None).unwrap_err().code(), "code_revoked");
        assert_eq!(a.revoke_code(&by_code.to_lowercase()).unwrap().user, "res-2");
        assert_eq!(a.enroll(&by_code, "x", None).unwrap_err().code(), "code_revoked");
        assert!(a.codes(None, false).unwrap().is_empty());

        let e = a.revoke_code(&used).unwrap_err();
        assert!(e.to_string().contains(&device), "{e}");
        assert_eq!(a.enroll(&expired, "x", None).unwrap_err().code(), "code_expired");
        let ids: Vec<String> = a.codes(None, true).unwrap().into_iter().map(|c| c.id).collect();
        let absent = ["00000000", "11111111"].into_iter().find(|i| !ids.iter().any(|x| x == i));
        assert!(a.revoke_code(absent.unwrap()).unwrap_err().to_string().contains("no enrolment"));
        assert!(a.revoke_code("zz").unwrap_err().to_string().contains("neither"));
        assert!(a.revoke_code("ABCDE-FGHJK").unwrap_err().to_string().contains("no such"));
    }
}
