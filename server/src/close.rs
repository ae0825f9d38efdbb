//! Why a websocket is closed, mapped in one place to a close code and a short reason.

use relais_crdt::protocol::DecodeError;

/// A reason to close a client connection. The text is sent to the client, so it never carries
/// internal details or document content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The server is shutting down (1001).
    ShuttingDown,
    /// Nothing was received for too long (1001).
    IdleTimeout,
    /// The frame could not be decoded (1002).
    Malformed(DecodeError),
    /// A text frame: the protocol is binary (1003).
    TextFrame,
    /// A well-framed update or awareness payload that Yjs refuses (1007).
    InvalidPayload(&'static str),
    /// A message above the configured size (1009).
    TooBig,
    /// A well-formed message that breaks a limit, e.g. too many awareness states (1008).
    Policy(&'static str),
    /// The room failed or storage is unavailable (1011).
    Internal,
    /// The client did not keep up with the room (1013).
    TooSlow,
    /// The room dropped edits the store refused because the document was just frozen for
    /// review; clients reconnect and resync read-only (1012).
    Reloading,
    /// No valid credentials (4401).
    Unauthenticated,
    /// Valid credentials without access to this document (4403).
    Forbidden,
    /// Access was taken away while connected: role removed, grant expired, document deleted
    /// (4403).
    AccessRevoked,
    /// The credential ended while connected: session signed out or expired, token revoked or
    /// expired, account disabled (4401).
    CredentialsEnded,
}

impl CloseReason {
    pub fn code(&self) -> u16 {
        match self {
            CloseReason::ShuttingDown | CloseReason::IdleTimeout => 1001,
            CloseReason::Malformed(_) => 1002,
            CloseReason::TextFrame => 1003,
            CloseReason::InvalidPayload(_) => 1007,
            CloseReason::TooBig => 1009,
            CloseReason::Policy(_) => 1008,
            CloseReason::Internal => 1011,
            CloseReason::Reloading => 1012,
            CloseReason::TooSlow => 1013,
            CloseReason::Unauthenticated | CloseReason::CredentialsEnded => 4401,
            CloseReason::Forbidden | CloseReason::AccessRevoked => 4403,
        }
    }

    /// The reason text, at most 123 bytes as the websocket protocol requires.
    pub fn text(&self) -> String {
        let text = match self {
            CloseReason::ShuttingDown => "server shutting down".to_owned(),
            CloseReason::IdleTimeout => "idle timeout".to_owned(),
            CloseReason::Malformed(error) => format!("malformed message: {error}"),
            CloseReason::TextFrame => "text frames are not supported".to_owned(),
            CloseReason::InvalidPayload(what) => format!("invalid {what}"),
            CloseReason::TooBig => "message too big".to_owned(),
            CloseReason::Policy(what) => (*what).to_owned(),
            CloseReason::Internal => "internal error".to_owned(),
            CloseReason::Reloading => "document submitted for validation; reconnect".to_owned(),
            CloseReason::TooSlow => "too slow".to_owned(),
            CloseReason::Unauthenticated => "authentication required".to_owned(),
            CloseReason::Forbidden => "no access to this document".to_owned(),
            CloseReason::AccessRevoked => "access revoked".to_owned(),
            CloseReason::CredentialsEnded => "credentials revoked or expired".to_owned(),
        };
        let mut end = text.len().min(123);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text[..end].to_owned()
    }

    /// Whether this close is the client's fault and worth a warning in the log.
    pub fn is_client_error(&self) -> bool {
        matches!(
            self,
            CloseReason::Malformed(_)
                | CloseReason::TextFrame
                | CloseReason::InvalidPayload(_)
                | CloseReason::TooBig
                | CloseReason::Policy(_)
        )
    }
}
