-- STRICT tables, as in 0001.
-- Conversations (workspace channels, direct messages, one discussion per document), their
-- messages with per-conversation seqs assigned under the write lock, reactions, mentions,
-- read markers and attachments. Full-text search: FTS5 without diacritics.

CREATE TABLE conversations (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('channel', 'direct', 'document')),
    workspace_id TEXT REFERENCES workspaces (id),
    document_id TEXT UNIQUE REFERENCES document_info (document_id),
    -- Channels only.
    name TEXT,
    private INTEGER NOT NULL DEFAULT 0 CHECK (private IN (0, 1)),
    created_by TEXT REFERENCES users (id),
    created_at_ms INTEGER NOT NULL,
    -- Highest message seq assigned; bumped by each post under the write lock.
    last_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
    -- Direct messages: the sorted participant ids joined by ',', so one set has one conversation.
    direct_key TEXT UNIQUE,
    CHECK ((kind = 'channel') = (name IS NOT NULL)),
    CHECK ((kind = 'document') = (document_id IS NOT NULL)),
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL))
) STRICT;
CREATE INDEX conversations_by_workspace ON conversations (workspace_id);

-- Members of private channels and direct messages; anyone's read marker in any conversation.
CREATE TABLE conversation_members (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    -- Explicit member (private channel, direct message) rather than a reader with a marker.
    is_member INTEGER NOT NULL DEFAULT 1 CHECK (is_member IN (0, 1)),
    last_read_seq INTEGER NOT NULL DEFAULT 0,
    joined_at_ms INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) STRICT;
CREATE INDEX conversation_members_by_user ON conversation_members (user_id);

CREATE TABLE messages (
    -- An alias of the rowid, so that VACUUM keeps it: the FTS5 index refers to rows by it
    -- (a table without an INTEGER PRIMARY KEY may have its rowids renumbered by VACUUM).
    row_id INTEGER PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq INTEGER NOT NULL CHECK (seq > 0),
    id TEXT NOT NULL UNIQUE,
    author_id TEXT NOT NULL REFERENCES users (id),
    -- The sender's own id for this message: a retry with the same one returns the same message.
    client_id TEXT NOT NULL,
    body TEXT NOT NULL,
    reply_to_seq INTEGER,
    mentions_all INTEGER NOT NULL DEFAULT 0 CHECK (mentions_all IN (0, 1)),
    created_at_ms INTEGER NOT NULL,
    edited_at_ms INTEGER,
    -- A deleted message keeps its row and seq (no gap), without its body.
    deleted_at_ms INTEGER,
    UNIQUE (conversation_id, seq),
    UNIQUE (conversation_id, author_id, client_id)
) STRICT;

-- External-content FTS5 index over messages.body, kept in step by the triggers below.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = 'messages',
    content_rowid = 'row_id',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.row_id, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.row_id, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.row_id, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.row_id, new.body);
END;

CREATE TABLE message_mentions (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (conversation_id, seq, user_id),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
) STRICT;
CREATE INDEX message_mentions_by_user ON message_mentions (user_id, conversation_id, seq);

CREATE TABLE message_reactions (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    emoji TEXT NOT NULL,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq, user_id, emoji),
    FOREIGN KEY (conversation_id, seq) REFERENCES messages (conversation_id, seq)
) STRICT;

-- Blob first (write-once, under attachments/{conversation}/{id}), row second; attached to a
-- message when it is posted.
CREATE TABLE attachments (
    id TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    uploaded_by TEXT NOT NULL REFERENCES users (id),
    file_name TEXT NOT NULL,
    content_type TEXT NOT NULL,
    len INTEGER NOT NULL CHECK (len >= 0),
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    object_key TEXT NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL,
    message_seq INTEGER,
    FOREIGN KEY (conversation_id, message_seq) REFERENCES messages (conversation_id, seq)
) STRICT;
