-- Store version 4: search folds full-width forms (NFKC) and covers a report's address and
-- comments and a patrol's entries. The index is rebuilt by Store::open from the documents.
DELETE FROM search;
INSERT INTO meta (key, value) SELECT 'search_rebuild', '1' WHERE EXISTS (SELECT 1 FROM docs);
