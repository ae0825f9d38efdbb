-- STRICT tables, as in 0001.
-- Accounts, organisations, workspaces, roles, invitations, sessions, API tokens and the audit
-- journal. Times are Unix milliseconds (64-bit integers) on both backends, so the same values (and the
-- same audit hashes) come out of either.

CREATE TABLE organisations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    -- Lowercased by the application; one account per address.
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('staff', 'external')),
    organisation_id TEXT REFERENCES organisations (id),
    is_admin INTEGER NOT NULL DEFAULT 0 CHECK (is_admin IN (0, 1)),
    -- PHC string (argon2id); NULL for accounts that only sign in through OpenID Connect.
    password_hash TEXT,
    oidc_issuer TEXT,
    oidc_subject TEXT,
    created_at_ms INTEGER NOT NULL,
    disabled_at_ms INTEGER,
    UNIQUE (oidc_issuer, oidc_subject)
) STRICT;

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY NOT NULL,
    organisation_id TEXT NOT NULL REFERENCES organisations (id),
    name TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL
) STRICT;

CREATE TABLE workspace_members (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'validator', 'editor', 'commenter', 'reader')),
    expires_at_ms INTEGER,
    sponsor_id TEXT REFERENCES users (id),
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
) STRICT;
CREATE INDEX workspace_members_by_user ON workspace_members (user_id);

-- What the directory knows of a document; its content lives in documents/document_updates.
-- A document without a row here is reachable only through API tokens and by administrators.
CREATE TABLE document_info (
    document_id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT REFERENCES workspaces (id),
    title TEXT NOT NULL,
    created_by TEXT REFERENCES users (id),
    created_at_ms INTEGER NOT NULL,
    deleted_at_ms INTEGER
) STRICT;
CREATE INDEX document_info_by_workspace ON document_info (workspace_id);

-- Per-document roles that narrow or widen the workspace role.
CREATE TABLE document_members (
    document_id TEXT NOT NULL REFERENCES document_info (document_id),
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'validator', 'editor', 'commenter', 'reader')),
    expires_at_ms INTEGER,
    sponsor_id TEXT REFERENCES users (id),
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (document_id, user_id)
) STRICT;
CREATE INDEX document_members_by_user ON document_members (user_id);

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    -- sha256 hex of the secret in the invitation link; the secret itself is never stored.
    secret_sha256 TEXT NOT NULL UNIQUE,
    email TEXT NOT NULL,
    workspace_id TEXT REFERENCES workspaces (id),
    document_id TEXT REFERENCES document_info (document_id),
    role TEXT NOT NULL CHECK (role IN ('owner', 'validator', 'editor', 'commenter', 'reader')),
    -- When the granted access ends.
    access_expires_at_ms INTEGER NOT NULL,
    sponsor_id TEXT NOT NULL REFERENCES users (id),
    created_at_ms INTEGER NOT NULL,
    accepted_at_ms INTEGER,
    accepted_by TEXT REFERENCES users (id),
    revoked_at_ms INTEGER,
    CHECK ((workspace_id IS NULL) <> (document_id IS NULL))
) STRICT;

CREATE TABLE sessions (
    -- sha256 hex of the cookie value.
    secret_sha256 TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    expires_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
) STRICT;
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    secret_sha256 TEXT NOT NULL UNIQUE,
    -- A document name, a prefix ending in '*', or '*' for every document.
    document_pattern TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('owner', 'validator', 'editor', 'commenter', 'reader')),
    expires_at_ms INTEGER NOT NULL,
    created_by TEXT REFERENCES users (id),
    created_at_ms INTEGER NOT NULL,
    revoked_at_ms INTEGER
) STRICT;

-- Bumped in the same transaction as every change that can take access away or change a role
-- (members, sessions, tokens, users), so each node notices with one cheap read.
CREATE TABLE access_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    epoch INTEGER NOT NULL
) STRICT;
INSERT INTO access_epoch (id, epoch) VALUES (1, 0);

-- Append-only, hash-chained journal. The application only inserts; the triggers below make an
-- UPDATE or DELETE fail, and `relais audit verify` detects an edit made around them.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY CHECK (seq > 0),
    at_ms INTEGER NOT NULL,
    actor TEXT,
    action TEXT NOT NULL,
    workspace_id TEXT,
    target TEXT,
    -- The exact JSON text that was hashed.
    details TEXT NOT NULL,
    prev_sha256 TEXT NOT NULL CHECK (length(prev_sha256) = 64),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64)
) STRICT;
CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, at_ms);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
