-- Accounts, organisations, workspaces, roles, invitations, sessions, API tokens and the audit
-- journal. Times are Unix milliseconds (64-bit integers) on both backends, so the same values (and the
-- same audit hashes) come out of either.

CREATE TABLE organisations (
    id text PRIMARY KEY,
    name text NOT NULL UNIQUE,
    created_at_ms bigint NOT NULL
);

CREATE TABLE users (
    id text PRIMARY KEY,
    -- Lowercased by the application; one account per address.
    email text NOT NULL UNIQUE,
    display_name text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('staff', 'external')),
    organisation_id text REFERENCES organisations (id),
    is_admin boolean NOT NULL DEFAULT false,
    -- PHC string (argon2id); NULL for accounts that only sign in through OpenID Connect.
    password_hash text,
    oidc_issuer text,
    oidc_subject text,
    created_at_ms bigint NOT NULL,
    disabled_at_ms bigint,
    UNIQUE (oidc_issuer, oidc_subject)
);

CREATE TABLE workspaces (
    id text PRIMARY KEY,
    organisation_id text NOT NULL REFERENCES organisations (id),
    name text NOT NULL,
    created_at_ms bigint NOT NULL
);

CREATE TABLE workspace_members (
    workspace_id text NOT NULL REFERENCES workspaces (id),
    user_id text NOT NULL REFERENCES users (id),
    role text NOT NULL CHECK (role IN ('owner', 'validator', 'editor', 'commenter', 'reader')),
    expires_at_ms bigint,
    sponsor_id text REFERENCES users (id),
    created_at_ms bigint NOT NULL,
    PRIMARY KEY (workspace_id, user_id)
);
CREATE INDEX workspace_members_by_user ON workspace_members (user_id);

-- What the directory knows of a document; its content lives in documents/document_updates.
-- A document without a row here is reachable only through API tokens and by administrators.
CREATE TABLE document_info (
    document_id text PRIMARY KEY,
    workspace_id text REFERENCES workspaces (id),
    title text NOT NULL,
    created_by text REFERENCES users (id),
    created_at_ms bigint NOT NULL,
    deleted_at_ms bigint
);
CREATE INDEX document_info_by_workspace ON document_info (workspace_id);

-- Per-document roles that narrow or widen the workspace role.
CREATE TABLE document_members (
    document_id text NOT NULL REFERENCES document_info (document_id),
    user_id text NOT NULL REFERENCES users (id),
    role text NOT NULL CHECK (role IN ('owner', 'validator', 'editor', 'commenter', 'reader')),
    expires_at_ms bigint,
    sponsor_id text REFERENCES users (id),
    created_at_ms bigint NOT NULL,
    PRIMARY KEY (document_id, user_id)
);
CREATE INDEX document_members_by_user ON document_members (user_id);

CREATE TABLE invitations (
    id text PRIMARY KEY,
    -- sha256 hex of the secret in the invitation link; the secret itself is never stored.
    secret_sha256 text NOT NULL UNIQUE,
    email text NOT NULL,
    workspace_id text REFERENCES workspaces (id),
    document_id text REFERENCES document_info (document_id),
    role text NOT NULL CHECK (role IN ('owner', 'validator', 'editor', 'commenter', 'reader')),
    -- When the granted access ends.
    access_expires_at_ms bigint NOT NULL,
    sponsor_id text NOT NULL REFERENCES users (id),
    created_at_ms bigint NOT NULL,
    accepted_at_ms bigint,
    accepted_by text REFERENCES users (id),
    revoked_at_ms bigint,
    CHECK ((workspace_id IS NULL) <> (document_id IS NULL))
);

CREATE TABLE sessions (
    -- sha256 hex of the cookie value.
    secret_sha256 text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users (id),
    csrf_token text NOT NULL,
    created_at_ms bigint NOT NULL,
    expires_at_ms bigint NOT NULL,
    revoked_at_ms bigint
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id text PRIMARY KEY,
    secret_sha256 text NOT NULL UNIQUE,
    -- A document name, a prefix ending in '*', or '*' for every document.
    document_pattern text NOT NULL,
    role text NOT NULL CHECK (role IN ('owner', 'validator', 'editor', 'commenter', 'reader')),
    expires_at_ms bigint NOT NULL,
    created_by text REFERENCES users (id),
    created_at_ms bigint NOT NULL,
    revoked_at_ms bigint
);

-- Bumped in the same transaction as every change that can take access away or change a role
-- (members, sessions, tokens, users), so each node notices with one cheap read.
CREATE TABLE access_epoch (
    id integer PRIMARY KEY CHECK (id = 1),
    epoch bigint NOT NULL
);
INSERT INTO access_epoch (id, epoch) VALUES (1, 0);

-- Append-only, hash-chained journal. The application only inserts; the triggers below make an
-- UPDATE or DELETE fail, and `relais audit verify` detects an edit made around them.
CREATE TABLE audit_log (
    seq bigint PRIMARY KEY CHECK (seq > 0),
    at_ms bigint NOT NULL,
    actor text,
    action text NOT NULL,
    workspace_id text,
    target text,
    -- The exact JSON text that was hashed.
    details text NOT NULL,
    prev_sha256 text NOT NULL CHECK (length(prev_sha256) = 64),
    sha256 text NOT NULL CHECK (length(sha256) = 64)
);
CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, at_ms);

CREATE FUNCTION audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
