-- Documents, their append-only update logs and their snapshot records.
-- STRICT tables: SQLite then refuses values of the wrong type instead of storing them.

CREATE TABLE documents (
    id TEXT PRIMARY KEY NOT NULL,
    -- Highest seq ever assigned; bumped by each append under the write lock.
    last_seq INTEGER NOT NULL CHECK (last_seq >= 0),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;

-- Append-only: rows are inserted by appends and deleted only by compaction, never updated.
-- The payload column is not called "update", a reserved word in SQL.
CREATE TABLE document_updates (
    document_id TEXT NOT NULL REFERENCES documents (id),
    seq INTEGER NOT NULL CHECK (seq > 0),
    update_bytes BLOB NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (document_id, seq)
) STRICT;

-- One row per recorded snapshot; the blob lives in the object store under object_key.
CREATE TABLE document_snapshots (
    document_id TEXT NOT NULL REFERENCES documents (id),
    upto_seq INTEGER NOT NULL CHECK (upto_seq > 0),
    object_key TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    len INTEGER NOT NULL CHECK (len >= 0),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (document_id, upto_seq)
) STRICT;
