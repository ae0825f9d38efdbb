-- Version history and validation (see the Postgres migration for the reasoning).

CREATE TABLE document_freezes (
    document_id TEXT PRIMARY KEY NOT NULL,
    frozen_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE document_versions (
    id TEXT PRIMARY KEY NOT NULL,
    document_id TEXT NOT NULL,
    number INTEGER NOT NULL CHECK (number > 0),
    kind TEXT NOT NULL CHECK (kind IN ('auto', 'named', 'restore', 'submitted')),
    name TEXT,
    created_at_ms INTEGER NOT NULL,
    created_by TEXT,
    authors TEXT NOT NULL,
    upto_seq INTEGER NOT NULL CHECK (upto_seq >= 0),
    object_key TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    len INTEGER NOT NULL CHECK (len >= 0),
    sealed_at_ms INTEGER,
    sealed_by TEXT,
    seal_comment TEXT,
    UNIQUE (document_id, number),
    CHECK ((sealed_at_ms IS NULL) = (sealed_by IS NULL))
) STRICT;
CREATE INDEX document_versions_created ON document_versions (created_at_ms) WHERE kind = 'auto' AND sealed_at_ms IS NULL;

CREATE TRIGGER document_versions_sealed_no_update BEFORE UPDATE ON document_versions
    WHEN OLD.sealed_at_ms IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'sealed version is immutable');
END;
CREATE TRIGGER document_versions_content_no_update BEFORE UPDATE ON document_versions
    WHEN NEW.id IS NOT OLD.id OR NEW.document_id IS NOT OLD.document_id
        OR NEW.number IS NOT OLD.number OR NEW.kind IS NOT OLD.kind OR NEW.name IS NOT OLD.name
        OR NEW.created_at_ms IS NOT OLD.created_at_ms OR NEW.created_by IS NOT OLD.created_by
        OR NEW.authors IS NOT OLD.authors OR NEW.upto_seq IS NOT OLD.upto_seq
        OR NEW.object_key IS NOT OLD.object_key OR NEW.sha256 IS NOT OLD.sha256
        OR NEW.len IS NOT OLD.len
BEGIN
    SELECT RAISE(ABORT, 'a version is immutable; only sealing it is allowed');
END;
CREATE TRIGGER document_versions_sealed_no_delete BEFORE DELETE ON document_versions
    WHEN OLD.sealed_at_ms IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'sealed version is immutable');
END;

-- REPLACE deletes the conflicting row without running delete triggers: refuse it outright.
CREATE TRIGGER document_versions_no_replace BEFORE INSERT ON document_versions
    WHEN EXISTS (SELECT 1 FROM document_versions WHERE id = NEW.id OR object_key = NEW.object_key
                 OR (document_id = NEW.document_id AND number = NEW.number))
BEGIN
    SELECT RAISE(ABORT, 'a version is immutable; it cannot be replaced');
END;

CREATE TABLE document_reviews (
    id TEXT PRIMARY KEY NOT NULL,
    document_id TEXT NOT NULL,
    version_id TEXT NOT NULL REFERENCES document_versions (id),
    submitted_by TEXT NOT NULL,
    submitted_at_ms INTEGER NOT NULL,
    note TEXT NOT NULL,
    decision TEXT CHECK (decision IN ('approved', 'rejected')),
    decided_by TEXT,
    decided_at_ms INTEGER,
    decision_comment TEXT,
    CHECK ((decision IS NULL) = (decided_at_ms IS NULL))
) STRICT;
CREATE INDEX document_reviews_document ON document_reviews (document_id, submitted_at_ms);
CREATE UNIQUE INDEX document_reviews_open ON document_reviews (document_id) WHERE decision IS NULL;

CREATE TRIGGER document_reviews_decided_no_update BEFORE UPDATE ON document_reviews
    WHEN OLD.decision IS NOT NULL
BEGIN
    SELECT RAISE(ABORT, 'a decided review is immutable');
END;
CREATE TRIGGER document_reviews_no_delete BEFORE DELETE ON document_reviews
BEGIN
    SELECT RAISE(ABORT, 'a decided review is immutable');
END;

CREATE TRIGGER document_reviews_no_replace BEFORE INSERT ON document_reviews
    WHEN EXISTS (SELECT 1 FROM document_reviews WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'a decided review is immutable');
END;

CREATE TABLE document_publications (
    document_id TEXT PRIMARY KEY NOT NULL,
    version_id TEXT NOT NULL REFERENCES document_versions (id),
    published_by TEXT NOT NULL,
    published_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE document_clients (
    document_id TEXT NOT NULL,
    client_id INTEGER NOT NULL CHECK (client_id >= 0),
    user_id TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    PRIMARY KEY (document_id, client_id)
) STRICT;

CREATE TABLE version_exports (
    version_id TEXT NOT NULL REFERENCES document_versions (id),
    format TEXT NOT NULL,
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (version_id, format, sha256)
) STRICT;
CREATE INDEX version_exports_sha256 ON version_exports (sha256);
