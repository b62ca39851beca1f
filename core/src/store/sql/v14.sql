-- Store version 14: words of one or two characters (`违章 搭建`, `楼 顶`) are found through an
-- index instead of a scan of every record's text. `search_grams` holds, per document, each pair
-- of adjacent letters or digits of its search text and the last one of each run, as tokens of
-- their own (search.rs, `grams`); it stores no text (contentless), no positions (detail none).
-- Both indexes are filled again by Store::open from the documents.
CREATE VIRTUAL TABLE search_grams USING fts5(
    grams,
    content = '',
    contentless_delete = 1,
    detail = 'none',
    tokenize = "unicode61 remove_diacritics 0 categories 'L* N* Co M* S*'"
);
DELETE FROM search;
INSERT OR IGNORE INTO meta (key, value) SELECT 'search_rebuild', '1' WHERE EXISTS (SELECT 1 FROM docs);
