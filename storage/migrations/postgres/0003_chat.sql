-- Conversations (workspace channels, direct messages, one discussion per document), their
-- messages with per-conversation seqs assigned under a row lock, reactions, mentions, read
-- markers and attachments. Full-text search uses a French configuration without accents.

-- unaccent lives in public so that every schema of the database (tests use one each) shares
-- it; the lock keeps concurrent migrations of several schemas from racing to create it.
SELECT pg_advisory_xact_lock(7215401);
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
CREATE TEXT SEARCH CONFIGURATION relais_french (COPY = pg_catalog.french);
ALTER TEXT SEARCH CONFIGURATION relais_french
    ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, french_stem;

CREATE TABLE conversations (
    id text PRIMARY KEY,
    kind text NOT NULL CHECK (kind IN ('channel', 'direct', 'document')),
    workspace_id text REFERENCES workspaces (id),
    document_id text UNIQUE REFERENCES document_info (document_id),
    -- Channels only.
    name text,
    private boolean NOT NULL DEFAULT false,
    created_by text REFERENCES users (id),
    created_at_ms bigint NOT NULL,
    -- Highest message seq assigned; bumped by each post while holding this row's lock.
    last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    -- Direct messages: the sorted participant ids joined by ',', so one set has one conversation.
    direct_key text UNIQUE,
    CHECK ((kind = 'channel') = (name IS NOT NULL)),
    CHECK ((kind = 'document') = (document_id IS NOT NULL)),
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
);
CREATE INDEX conversations_by_workspace ON conversations (workspace_id);

-- Members of private channels and direct messages; anyone's read marker in any conversation.
CREATE TABLE conversation_members (
    conversation_id text NOT NULL REFERENCES conversations (id),
    user_id text NOT NULL REFERENCES users (id),
    -- Explicit member (private channel, direct message) rather than a reader with a marker.
    is_member boolean NOT NULL DEFAULT true,
    last_read_seq bigint NOT NULL DEFAULT 0,
    joined_at_ms bigint NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);
CREATE INDEX conversation_members_by_user ON conversation_members (user_id);

CREATE TABLE messages (
    conversation_id text NOT NULL REFERENCES conversations (id),
    seq bigint NOT NULL CHECK (seq > 0),
    id text NOT NULL UNIQUE,
    author_id text NOT NULL REFERENCES users (id),
    -- The sender's own id for this message: a retry with the same one returns the same message.
    client_id text NOT NULL,
    body text NOT NULL,
    reply_to_seq bigint,
    mentions_all boolean NOT NULL DEFAULT false,
    created_at_ms bigint NOT NULL,
    edited_at_ms bigint,
    -- A deleted message keeps its row and seq (no gap), without its body.
    deleted_at_ms bigint,
    search tsvector GENERATED ALWAYS AS (to_tsvector('relais_french', body)) STORED,
    PRIMARY KEY (conversation_id, seq),
    UNIQUE (conversation_id, author_id, client_id)
);
CREATE INDEX messages_search ON messages USING gin (search);

CREATE TABLE message_mentions (
    conversation_id text NOT NULL,
    seq bigint NOT NULL,
    user_id text NOT NULL REFERENCES users (id),
    PRIMARY KEY (conversation_id, seq, user_id),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
);
CREATE INDEX message_mentions_by_user ON message_mentions (user_id, conversation_id, seq);

CREATE TABLE message_reactions (
    conversation_id text NOT NULL,
    seq bigint NOT NULL,
    user_id text NOT NULL REFERENCES users (id),
    emoji text NOT NULL,
    created_at_ms bigint NOT NULL,
    PRIMARY KEY (conversation_id, seq, user_id, emoji),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
);

-- Blob first (write-once, under attachments/{conversation}/{id}), row second; attached to a
-- message when it is posted.
CREATE TABLE attachments (
    id text PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id),
    uploaded_by text NOT NULL REFERENCES users (id),
    file_name text NOT NULL,
    content_type text NOT NULL,
    len bigint NOT NULL CHECK (len >= 0),
    sha256 text NOT NULL CHECK (length(sha256) = 64),
    object_key text NOT NULL UNIQUE,
    created_at_ms bigint NOT NULL,
    message_seq bigint,
    FOREIGN KEY (conversation_id, message_seq) REFERENCES messages (conversation_id, seq)
);
