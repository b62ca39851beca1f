//! Size limits on everything a user or a peer can make us store.
//!
//! They keep one document small enough to load in a few milliseconds on a phone and keep a hostile
//! peer from growing a store without bound. Counts of text are in Unicode code points.

use crate::error::{CoreError, Result};

/// A scope path (`jl/changchun/…/grid-07`), in bytes.
pub const SCOPE_BYTES: usize = 256;
/// Segments of a scope path.
pub const SCOPE_SEGMENTS: usize = 16;
/// A user id, a device id, an assignee.
pub const USER_ID_CHARS: usize = 64;
/// A name, a role, a contact, a place, an area, a checkpoint name.
pub const NAME_CHARS: usize = 200;
/// A report title.
pub const TITLE_CHARS: usize = 200;
/// A report description.
pub const DESCRIPTION_CHARS: usize = 10_000;
/// A timeline note, a comment, a patrol entry's text, a follow-up.
pub const NOTE_CHARS: usize = 4_000;
/// The notes of one mediation session, or an agreement.
pub const NOTES_CHARS: usize = 100_000;
/// Items of a list that people append to (patrol entries, comments, timeline events).
pub const LIST_ITEMS: usize = 10_000;
/// Items of a short list given at creation (team members, parties, checkpoints, photos).
pub const SHORT_LIST_ITEMS: usize = 200;
/// Bytes handed to `merge_remote` in one call.
pub const MERGE_BYTES: usize = 16 * 1024 * 1024;
/// Saved size of one document (snapshot plus chunks).
pub const DOC_BYTES: usize = 32 * 1024 * 1024;
/// Bytes of one blob (a photo), as the server's default `--max-blob-bytes` (docs/blobs.md).
pub const BLOB_BYTES: u64 = 20 * 1024 * 1024;
/// Characters of a blob's media type (`image/jpeg`).
pub const MEDIA_TYPE_CHARS: usize = 100;
/// Points awarded for one report.
pub const POINTS_MAX: i64 = 10_000;
/// Characters of any plain string stored in a record (the longest plain field is a note); longer
/// text is Automerge Text, bounded by [`NOTES_CHARS`].
pub const SCALAR_CHARS: usize = NOTE_CHARS;
/// Characters of a timeline event's action (a command's name).
pub const ACTION_CHARS: usize = 64;
/// The earliest time a record may carry: 2010-01-01T00:00:00Z. A phone whose clock was reset
/// (to 1970, or 2000) must not date records by it: its commands are refused until the clock is
/// set, and the server refuses such times in whatever it is sent.
pub const EARLIEST_MS: i64 = 1_262_304_000_000;
/// The latest time a record may carry: the end of the year 9999, as for change times.
pub const LATEST_MS: i64 = crate::changes::MAX_CHANGE_TIME;

/// Characters that show nothing: zero-width spaces and joiners, direction marks, the word
/// joiner and invisible operators, the byte-order mark, the soft hyphen, the combining grapheme
/// joiner, the Mongolian vowel separator.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{206F}' | '\u{FEFF}'
    )
}

/// Whether `value` shows nothing: empty, or only white space and invisible characters.
pub(crate) fn blank(value: &str) -> bool {
    value.chars().all(|c| c.is_whitespace() || invisible(c))
}

/// Checks a required free-text value: not blank (white space and zero-width characters alone
/// count as blank), at most `max` characters, no NUL.
pub(crate) fn text(field: &'static str, value: &str, max: usize) -> Result<()> {
    if blank(value) {
        return Err(CoreError::invalid(field, "must not be empty"));
    }
    optional_text(field, value, max)
}

/// Checks a free-text value that may be empty.
pub(crate) fn optional_text(field: &'static str, value: &str, max: usize) -> Result<()> {
    let chars = value.chars().count();
    if chars > max {
        return Err(CoreError::invalid(field, format!("{chars} characters; at most {max}")));
    }
    if value.contains('\0') {
        return Err(CoreError::invalid(field, "contains a NUL character"));
    }
    Ok(())
}

/// Checks a user id: 1–64 characters, no white space or control characters.
pub(crate) fn user_id(field: &'static str, value: &str) -> Result<()> {
    text(field, value, USER_ID_CHARS)?;
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(CoreError::invalid(field, format!("{value:?} contains white space")));
    }
    Ok(())
}

/// Checks a scope path: `/`-separated non-empty segments, no white space.
pub fn scope(value: &str) -> Result<()> {
    if value.is_empty() || value.len() > SCOPE_BYTES {
        return Err(CoreError::invalid("scope", format!("must be 1..={SCOPE_BYTES} bytes")));
    }
    let segments: Vec<&str> = value.split('/').collect();
    if segments.len() > SCOPE_SEGMENTS {
        return Err(CoreError::invalid("scope", format!("more than {SCOPE_SEGMENTS} segments")));
    }
    if segments.iter().any(|s| s.is_empty()) {
        return Err(CoreError::invalid("scope", format!("{value:?} has an empty segment")));
    }
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(CoreError::invalid("scope", format!("{value:?} has a segment . or ..")));
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control() || c == '%' || c == '*') {
        return Err(CoreError::invalid(
            "scope",
            format!("{value:?} contains white space, '%' or '*'"),
        ));
    }
    Ok(())
}

/// Checks a time a record carries: between [`EARLIEST_MS`] and [`LATEST_MS`].
pub(crate) fn time(field: &'static str, ms: impl Into<crate::time::Millis>) -> Result<()> {
    let ms = ms.into();
    if !(EARLIEST_MS..=LATEST_MS).contains(&ms) {
        return Err(CoreError::invalid(
            field,
            format!(
                "{} is outside {} .. the year 9999",
                crate::time::format_ms(ms),
                crate::time::format_ms(EARLIEST_MS)
            ),
        ));
    }
    Ok(())
}

/// Checks the length of a list before one more item is appended.
pub(crate) fn room_in_list(field: &'static str, len: usize, max: usize) -> Result<()> {
    if len >= max {
        return Err(CoreError::invalid(field, format!("already holds {len} items; at most {max}")));
    }
    Ok(())
}

/// Checks a list given whole.
pub(crate) fn list_len(field: &'static str, len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(CoreError::invalid(field, format!("{len} items; at most {max}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert!(scope("jl/changchun/chaoyang/yongchang/xinhua/grid-07").is_ok());
        assert!(scope("吉林/长春").is_ok());
        for bad in ["", "/a", "a/", "a//b", "a b", "a/%", &"x/".repeat(20), "jl/../x", "./jl"] {
            assert!(scope(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn texts() {
        assert!(text("title", "  ", 10).is_err());
        assert!(text("title", "\u{200B}\u{200D}\u{FEFF}\u{3000}", 10).is_err(), "zero-width only");
        assert!(text("title", "\u{200B}违章", 10).is_ok());
        assert!(text("title", "违章建筑", 4).is_ok());
        assert!(text("title", "违章建筑!", 4).is_err());
        assert!(optional_text("note", "", 4).is_ok());
        assert!(optional_text("note", "a\0b", 4).is_err());
    }
}
