-- Documents, their append-only update logs and their snapshot records.

CREATE TABLE documents (
    id text PRIMARY KEY,
    -- Highest seq ever assigned; bumped by each append while holding this row's lock.
    last_seq bigint NOT NULL CHECK (last_seq >= 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Append-only: rows are inserted by appends and deleted only by compaction, never updated.
-- The payload column is not called "update", a reserved word in SQL.
CREATE TABLE document_updates (
    document_id text NOT NULL REFERENCES documents (id),
    seq bigint NOT NULL CHECK (seq > 0),
    update_bytes bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, seq)
);

-- One row per recorded snapshot; the blob lives in the object store under object_key.
CREATE TABLE document_snapshots (
    document_id text NOT NULL REFERENCES documents (id),
    upto_seq bigint NOT NULL CHECK (upto_seq > 0),
    object_key text NOT NULL UNIQUE,
    sha256 text NOT NULL CHECK (length(sha256) = 64),
    len bigint NOT NULL CHECK (len >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (document_id, upto_seq)
);
