//! Full-text search over report titles and descriptions, patrol areas, and case places, parties
//! and notes. The trigram tokenizer matches substrings, so Chinese text needs no word segmenter;
//! queries shorter than three characters fall back to a substring scan.

use rusqlite::Connection;

use crate::error::{CoreError, Result};
use crate::id::DocId;
use crate::model::Kind;

/// Most hits one search returns.
pub const MAX_HITS: u32 = 200;

/// One search result.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SearchHit {
    /// Document id.
    pub id: DocId,
    /// Its kind.
    pub kind: Kind,
    /// Title (report title, patrol area, case place and parties).
    pub title: String,
    /// Text around the match, the match in «».
    pub snippet: String,
}

pub(crate) fn search(
    conn: &Connection,
    query: &str,
    kind: Option<Kind>,
    limit: u32,
) -> Result<Vec<SearchHit>> {
    let q = query.trim();
    crate::limits::text("query", q, 200)?;
    if limit == 0 || limit > MAX_HITS {
        return Err(CoreError::invalid("limit", format!("{limit}; must be 1..={MAX_HITS}")));
    }
    let kind_code = kind.map(|k| k.code());
    let long_enough = q.chars().count() >= 3;
    let sql = if long_enough {
        "SELECT d.doc_id, d.kind, s.title, snippet(search, -1, '«', '»', '…', 12) \
         FROM search s JOIN docs d ON d.id = s.rowid \
         WHERE search MATCH ?1 AND (?2 IS NULL OR d.kind = ?2) ORDER BY rank LIMIT ?3"
    } else {
        "SELECT d.doc_id, d.kind, s.title, substr(s.title || ' ' || s.body, 1, 80) \
         FROM search s JOIN docs d ON d.id = s.rowid \
         WHERE (instr(lower(s.title), lower(?1)) > 0 OR instr(lower(s.body), lower(?1)) > 0) \
         AND (?2 IS NULL OR d.kind = ?2) ORDER BY d.updated_at DESC LIMIT ?3"
    };
    // A phrase in double quotes: the user's text is matched literally, never parsed as FTS syntax.
    let arg = if long_enough { format!("\"{}\"", q.replace('"', "\"\"")) } else { q.to_string() };
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(rusqlite::params![arg, kind_code, limit])?;
    let mut hits = Vec::new();
    while let Some(r) = rows.next()? {
        let bytes: Vec<u8> = r.get(0)?;
        let code: i64 = r.get(1)?;
        let id = DocId::from_slice(&bytes)?;
        hits.push(SearchHit {
            id,
            kind: Kind::from_code(code)
                .ok_or_else(|| CoreError::malformed(id, format!("unknown kind code {code}")))?,
            title: r.get(2)?,
            snippet: r.get(3)?,
        });
    }
    Ok(hits)
}
