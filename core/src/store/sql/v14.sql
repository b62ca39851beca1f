-- Store version 14: the search index is merged a little after each write transaction
-- (`search::merge`), not by FTS5's automatic merge, which did 64 pages times the index's depth
-- of work at once every 64 pages written (an edit in about a hundred took 30 to 50 ms) and let
-- up to 15 one-page segments pile up, each one read by every search.
INSERT INTO search (search, rank) VALUES ('automerge', 0);
-- Three segments of a level are merged, not four: searches read fewer segments (a work order
-- number, whose trigrams are in every report, took twice as long with four).
INSERT INTO search (search, rank) VALUES ('usermerge', 3);
