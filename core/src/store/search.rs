//! Full-text search as Chinese users type: over report titles, descriptions, addresses and
//! comments, patrol areas and entries, case places, parties and notes, bulletin titles and
//! texts, and deliberation topics, backgrounds, options, comments, minutes and decisions.
//!
//! - Text is folded to NFKC on both sides, so the full-width digits and letters of a Chinese
//!   input method (`１２号楼`) find their half-width forms (`12号楼`).
//! - Words separated by spaces must all match (`违章 建筑`).
//! - The trigram tokenizer matches substrings, so Chinese needs no word segmenter; a word of
//!   three characters or more uses the index, a shorter one is matched by a scan (`instr`).
//! - The user's text is matched literally, never parsed as FTS syntax.
//! - Hits come newest first (by arrival in this store), paged with a cursor like the queries;
//!   the snippet marks each match in «», whatever its length.

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use unicode_normalization::UnicodeNormalization;

use super::query::{Page, PageRequest};
use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::Kind;

/// Most hits one page of a search returns.
pub const MAX_HITS: i32 = 200;
/// Longest query, in characters.
const QUERY_CHARS: usize = 200;
/// Most words of one query.
const WORDS: usize = 8;
/// Characters of context on each side of the first match in a snippet.
const CONTEXT: usize = 16;

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SearchHit {
    /// Document id.
    pub id: DocId,
    /// Its kind.
    pub kind: Kind,
    /// Title (report title, patrol area, case place and parties, bulletin title, deliberation
    /// topic).
    pub title: String,
    /// Text around the first match, each match in «».
    pub snippet: String,
}

/// Pages of merge work per search row written: about one page per record's text, rewritten
/// once per level of the index (six at 10,000 records, eight at a million).
const MERGE_PAGES_PER_ROW: i64 = 8;
/// Search rows written before the writer merges (see [`merge`]): three writes in four then do
/// no merging at all, and a call's own cost is paid once for several. With eight, each merge
/// was twice the work, and the edits that merged (about 3 ms) set `store.edit_p99_ms` at
/// 100,000 records: 2.7–3.2 ms against 1.88–1.90 ms with four, for `store.edit_notes_p50_ms`
/// 3–8% higher (one edit of a case's notes in four merges).
pub(crate) const MERGE_EVERY_ROWS: i64 = 4;
/// The most merge work after one transaction (a page of a catch-up can write thousands of rows;
/// FTS5's crisis merge still bounds the segments of a level at 16).
const MERGE_PAGES_MAX: i64 = 4_096;

thread_local! {
    /// Search rows written or removed on this thread since [`take_written`] last ran: the writer
    /// runs its transactions on the caller's thread and merges after them (see [`merge`]).
    static WRITTEN: std::cell::Cell<i64> = const { std::cell::Cell::new(0) };
}

/// Counts `rows` search rows written or removed in the current transaction.
pub(crate) fn note_written(rows: i64) {
    WRITTEN.with(|w| w.set(w.get() + rows));
}

/// Removes the search row of document `rowid`, if it has one, counting it for the merge.
pub(crate) fn remove(conn: &Connection, rowid: i64) -> Result<()> {
    let removed = conn.prepare_cached("DELETE FROM search WHERE rowid = ?1")?.execute([rowid])?;
    note_written(removed as i64);
    Ok(())
}

/// The search rows written on this thread since the last call, and starts counting again.
pub(crate) fn take_written() -> i64 {
    WRITTEN.with(|w| w.replace(0))
}

/// Merges the index's segments a little, in proportion to the `rows` rows written since the
/// last merge, in the transaction that wrote the last of them. FTS5's own automatic merge is
/// off (store version 14): it did its work in lumps of hundreds of pages inside one write in a
/// hundred, and let the newest level grow to 15 segments, each one read by every search. This
/// keeps each level at 3 segments at most (FTS5's `usermerge`) with a bounded cost per write.
pub(crate) fn merge(conn: &Connection, rows: i64) -> Result<()> {
    let pages = (rows * MERGE_PAGES_PER_ROW).clamp(1, MERGE_PAGES_MAX);
    conn.prepare_cached("INSERT INTO search (search, rank) VALUES ('merge', ?1)")?
        .execute([pages])?;
    Ok(())
}

/// Text as it is indexed and searched: NFKC (full-width forms become half-width ones, a
/// full-width space a space).
pub(crate) fn fold(text: &str) -> String {
    text.nfkc().collect()
}

/// The words of a query, folded; empty words and repeats are dropped.
fn words(query: &str) -> Result<Vec<String>> {
    let folded = fold(query);
    crate::limits::text("query", folded.trim(), QUERY_CHARS)?;
    let mut words: Vec<String> = Vec::new();
    for w in folded.split_whitespace() {
        if !words.iter().any(|x| x == w) {
            words.push(w.to_string());
        }
    }
    if words.len() > WORDS {
        return Err(CoreError::invalid("query", format!("{} words; at most {WORDS}", words.len())));
    }
    Ok(words)
}

fn parse_cursor(cursor: &str) -> Result<i64> {
    cursor.parse().map_err(|_| {
        CoreError::invalid(
            "page cursor",
            format!("{:?} is not a search cursor", cursor.chars().take(40).collect::<String>()),
        )
    })
}

pub(crate) fn search(
    conn: &Connection,
    query: &str,
    kind: Option<Kind>,
    page: &PageRequest,
) -> Result<Page<SearchHit>> {
    let words = words(query)?;
    if !(1..=MAX_HITS).contains(&page.limit) {
        return Err(CoreError::invalid("limit", format!("{}; must be 1..={MAX_HITS}", page.limit)));
    }
    let (long, short): (Vec<&String>, Vec<&String>) =
        words.iter().partition(|w| w.chars().count() >= 3);
    let mut clauses = Vec::new();
    let mut params = Vec::new();
    if !long.is_empty() {
        // Each word a phrase in double quotes: matched literally, never parsed as FTS syntax.
        let expr: Vec<String> =
            long.iter().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
        clauses.push("search MATCH ?".to_string());
        params.push(SqlValue::Text(expr.join(" AND ")));
    }
    for w in &short {
        // SQLite's lower() folds ASCII letters only, so a word without any is found as it is,
        // with no lower-cased copy of each record's text.
        clauses.push(if w.bytes().any(|b| b.is_ascii_alphabetic()) {
            "(instr(lower(s.title), lower(?)) > 0 OR instr(lower(s.body), lower(?)) > 0)".into()
        } else {
            "(instr(s.title, ?) > 0 OR instr(s.body, ?) > 0)".into()
        });
        params.push(SqlValue::Text((*w).clone()));
        params.push(SqlValue::Text((*w).clone()));
    }
    if let Some(k) = kind {
        clauses.push("d.kind = ?".into());
        params.push(SqlValue::Integer(k.code()));
    }
    if let Some(after) = &page.after {
        clauses.push("s.rowid < ?".into());
        params.push(SqlValue::Integer(parse_cursor(after)?));
    }
    let sql = format!(
        "SELECT d.doc_id, d.kind, s.title, s.body, s.rowid FROM search s JOIN docs d ON d.id = s.rowid \
         WHERE {} ORDER BY s.rowid DESC LIMIT {}",
        clauses.join(" AND "),
        page.limit + 1
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut items = Vec::new();
    let mut next = None;
    while let Some(r) = rows.next()? {
        if items.len() as i64 == i64::from(page.limit) {
            next = items.last().map(|(_, rowid): &(SearchHit, i64)| rowid.to_string());
            break;
        }
        let bytes: Vec<u8> = r.get(0)?;
        let code: i64 = r.get(1)?;
        let id = DocId::from_slice(&bytes)?;
        let title: String = r.get(2)?;
        let body: String = r.get(3)?;
        let kind = Kind::from_code(code)
            .ok_or_else(|| CoreError::malformed(id, format!("unknown kind code {code}")))?;
        let hit = SearchHit { id, kind, snippet: snippet(&title, &body, &words), title };
        items.push((hit, r.get(4)?));
    }
    Ok(Page { items: items.into_iter().map(|(h, _)| h).collect(), next })
}

/// Case-insensitive (as SQLite's `lower`: ASCII letters) positions of `word` in `chars`.
fn find(chars: &[char], word: &[char], from: usize) -> Option<usize> {
    if word.is_empty() || word.len() > chars.len() {
        return None;
    }
    (from..=chars.len() - word.len()).find(|&i| {
        chars[i..i + word.len()].iter().zip(word).all(|(a, b)| a.eq_ignore_ascii_case(b))
    })
}

/// The text around the first match in `body` (else in `title`), every match of a word marked.
pub(crate) fn snippet(title: &str, body: &str, words: &[String]) -> String {
    let words: Vec<Vec<char>> = words.iter().map(|w| w.chars().collect()).collect();
    let first = |text: &[char]| words.iter().filter_map(|w| find(text, w, 0)).min();
    let body_chars: Vec<char> = body.chars().collect();
    let title_chars: Vec<char> = title.chars().collect();
    let (text, at) = match first(&body_chars) {
        Some(at) => (body_chars, at),
        None => {
            let at = first(&title_chars).unwrap_or(0);
            (title_chars, at)
        }
    };
    let start = at.saturating_sub(CONTEXT);
    let end = (at + CONTEXT * 2).min(text.len());
    let window = &text[start..end];
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut i = 0;
    while i < window.len() {
        let hit = words.iter().filter(|w| find(window, w, i) == Some(i)).map(Vec::len).max();
        match hit {
            Some(n) => {
                out.push('«');
                out.extend(&window[i..i + n]);
                out.push('»');
                i += n;
            }
            None => {
                out.push(if window[i] == '\n' { ' ' } else { window[i] });
                i += 1;
            }
        }
    }
    if end < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The segments of the search index, read from FTS5's structure record (its format is
    /// part of FTS5's stable file format): a 4-byte cookie, then varints: levels, segments.
    fn segments(conn: &Connection) -> u64 {
        let block: Vec<u8> = conn
            .query_row("SELECT block FROM search_data WHERE id = 10", [], |r| r.get(0))
            .unwrap();
        let mut varints = block[4..].iter().scan(0u64, |acc, &b| {
            *acc = (*acc << 7) | u64::from(b & 0x7f);
            let v = *acc;
            if b & 0x80 == 0 {
                *acc = 0;
                Some(Some(v))
            } else {
                Some(None)
            }
        });
        let mut next = || varints.by_ref().flatten().next().unwrap();
        let _levels = next();
        next()
    }

    /// Records written one a transaction, as a user edits, leave few segments for a search to
    /// read: FTS5's own merge let the newest level grow to 15 one-page segments, and then
    /// merged it inside one edit.
    #[test]
    fn writes_one_at_a_time_keep_the_index_in_few_segments() {
        use crate::model::{NewRecord, NewReport, ReportCategory};
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Store::open(dir.path().join("s.db")).unwrap();
        let mut most = 0;
        for i in 0..600 {
            let report = NewReport {
                scope: "jl/cc/grid-7".into(),
                category: ReportCategory::SafetyHazard,
                title: format!("违章搭建 {i}"),
                description: format!("新华小区{i}号楼顶有彩钢房，约{i}平方米"),
                location: None,
                photos: vec![],
            };
            store.create(&NewRecord::Report { report }).unwrap();
            most = most.max(segments(&store.writer().conn));
        }
        // A few levels of at most three segments, where FTS5's own merge reached 21.
        assert!(most <= 12, "{most} segments");
        assert_eq!(store.search("违章搭建", None, 50).unwrap().len(), 50);
        let automerge: i64 = store
            .writer()
            .conn
            .query_row("SELECT v FROM search_config WHERE k = 'automerge'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(automerge, 0);
    }

    #[test]
    fn folds_full_width_forms_and_splits_words() {
        assert_eq!(fold("１２号楼　Ａ座"), "12号楼 A座");
        assert_eq!(words("  违章　建筑 违章 ").unwrap(), vec!["违章", "建筑"]);
        assert!(words("   ").is_err());
        let nine: Vec<String> = (0..9).map(|i| format!("w{i}")).collect();
        assert!(words(&nine.join(" ")).is_err());
        assert_eq!(words(&nine[..8].join(" ")).unwrap().len(), 8);
    }

    #[test]
    fn snippets_mark_every_match_of_any_length() {
        let s =
            snippet("标题", "新华小区7号楼顶有违章建筑，约20平方米", &["违".into(), "建筑".into()]);
        assert_eq!(s, "新华小区7号楼顶有«违»章«建筑»，约20平方米");
        let s = snippet("Broken RAIL on the bridge", "", &["rail".into()]);
        assert_eq!(s, "Broken «RAIL» on the bridge");
        let long = format!("{}违章{}", "甲".repeat(40), "乙".repeat(40));
        let s = snippet("t", &long, &["违章".into()]);
        assert!(s.starts_with('…') && s.ends_with('…') && s.contains("«违章»"), "{s}");
    }
}
