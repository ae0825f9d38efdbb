-- Version history and validation. Document ids are not foreign keys here: a document's log
-- row may not exist yet, and restores write these tables before the logs.

-- A document under review: appends are refused while a row exists (checked by the append,
-- after it holds the document's counter row lock, so no append commits after a freeze).
CREATE TABLE document_freezes (
    document_id text PRIMARY KEY,
    frozen_at_ms bigint NOT NULL
);

-- Every version kept: its state is a write-once blob, its row never changes except once, to
-- be sealed by an approval; after that neither row nor blob may change (triggers below).
CREATE TABLE document_versions (
    id text PRIMARY KEY,
    document_id text NOT NULL,
    number bigint NOT NULL CHECK (number > 0),
    kind text NOT NULL CHECK (kind IN ('auto', 'named', 'restore', 'submitted')),
    name text,
    created_at_ms bigint NOT NULL,
    -- An actor (`user:<id>`, `token:<id>`) or NULL for automatic versions.
    created_by text,
    -- JSON array of the user ids who edited since the previous version.
    authors text NOT NULL,
    upto_seq bigint NOT NULL CHECK (upto_seq >= 0),
    object_key text NOT NULL UNIQUE,
    sha256 text NOT NULL CHECK (length(sha256) = 64),
    len bigint NOT NULL CHECK (len >= 0),
    sealed_at_ms bigint,
    sealed_by text,
    seal_comment text,
    UNIQUE (document_id, number),
    CHECK ((sealed_at_ms IS NULL) = (sealed_by IS NULL))
);
CREATE INDEX document_versions_created ON document_versions (created_at_ms) WHERE kind = 'auto' AND sealed_at_ms IS NULL;

CREATE FUNCTION document_versions_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.sealed_at_ms IS NOT NULL THEN
            RAISE EXCEPTION 'sealed version % of % is immutable', OLD.number, OLD.document_id;
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.sealed_at_ms IS NOT NULL THEN
        RAISE EXCEPTION 'sealed version % of % is immutable', OLD.number, OLD.document_id;
    END IF;
    IF (NEW.id, NEW.document_id, NEW.number, NEW.kind, NEW.name, NEW.created_at_ms, NEW.created_by,
        NEW.authors, NEW.upto_seq, NEW.object_key, NEW.sha256, NEW.len)
       IS DISTINCT FROM
       (OLD.id, OLD.document_id, OLD.number, OLD.kind, OLD.name, OLD.created_at_ms, OLD.created_by,
        OLD.authors, OLD.upto_seq, OLD.object_key, OLD.sha256, OLD.len) THEN
        RAISE EXCEPTION 'a version is immutable; only sealing it is allowed';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER document_versions_immutable BEFORE UPDATE OR DELETE ON document_versions
    FOR EACH ROW EXECUTE FUNCTION document_versions_guard();

-- Submissions for validation and their decisions; a decided review never changes and no
-- review is ever deleted.
CREATE TABLE document_reviews (
    id text PRIMARY KEY,
    document_id text NOT NULL,
    version_id text NOT NULL REFERENCES document_versions (id),
    submitted_by text NOT NULL,
    submitted_at_ms bigint NOT NULL,
    note text NOT NULL,
    decision text CHECK (decision IN ('approved', 'rejected')),
    decided_by text,
    decided_at_ms bigint,
    decision_comment text,
    CHECK ((decision IS NULL) = (decided_at_ms IS NULL))
);
CREATE INDEX document_reviews_document ON document_reviews (document_id, submitted_at_ms);
-- At most one undecided review per document.
CREATE UNIQUE INDEX document_reviews_open ON document_reviews (document_id) WHERE decision IS NULL;

CREATE FUNCTION document_reviews_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR OLD.decision IS NOT NULL THEN
        RAISE EXCEPTION 'a decided review is immutable';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER document_reviews_immutable BEFORE UPDATE OR DELETE ON document_reviews
    FOR EACH ROW EXECUTE FUNCTION document_reviews_guard();

-- Row triggers do not see TRUNCATE.
CREATE FUNCTION refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% holds immutable rows and cannot be truncated', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER document_versions_no_truncate BEFORE TRUNCATE ON document_versions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();
CREATE TRIGGER document_reviews_no_truncate BEFORE TRUNCATE ON document_reviews
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_truncate();

-- The approved version readable without an account.
CREATE TABLE document_publications (
    document_id text PRIMARY KEY,
    version_id text NOT NULL REFERENCES document_versions (id),
    published_by text NOT NULL,
    published_at_ms bigint NOT NULL
);

-- Which user each Yjs client id belongs to, recorded as connections edit: authorship.
CREATE TABLE document_clients (
    document_id text NOT NULL,
    client_id bigint NOT NULL CHECK (client_id >= 0),
    user_id text NOT NULL,
    first_seen_ms bigint NOT NULL,
    PRIMARY KEY (document_id, client_id)
);

-- SHA-256 of every export made of a sealed version, so that a file can be verified later.
CREATE TABLE version_exports (
    version_id text NOT NULL REFERENCES document_versions (id),
    format text NOT NULL,
    sha256 text NOT NULL CHECK (length(sha256) = 64),
    created_at_ms bigint NOT NULL,
    PRIMARY KEY (version_id, format, sha256)
);
CREATE INDEX version_exports_sha256 ON version_exports (sha256);
