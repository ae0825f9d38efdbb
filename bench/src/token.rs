//! Tokens: the text each benchmark edit inserts, naming its writer and its sequence number.
//!
//! A Yjs update stores inserted strings verbatim, so a receiver finds the tokens of an update by
//! scanning its bytes, without decoding it or applying it to a document. Writers only ever
//! append at the end of their own text, so no later insert splits a token; the servers may merge
//! or re-encode updates (Relais relays the delta it computed), but a string item keeps its bytes.

/// `[w` + 4 hex digits (writer) + `s` + 8 hex digits (sequence) + `]`.
pub const TOKEN_BYTES: usize = 16;

/// Identifies one edit: its writer (unique within a run) and its position in that writer's
/// sequence of edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub writer: u32,
    pub seq: u32,
}

impl Token {
    /// The token's text. Writers above `0xffff` do not fit and are refused by the callers.
    pub fn text(self) -> String {
        format!("[w{:04x}s{:08x}]", self.writer & 0xffff, self.seq)
    }
}

fn hex_value(byte: u8) -> Option<u32> {
    match byte {
        b'0'..=b'9' => Some(u32::from(byte - b'0')),
        b'a'..=b'f' => Some(u32::from(byte - b'a' + 10)),
        _ => None,
    }
}

fn parse_hex(bytes: &[u8]) -> Option<u32> {
    bytes.iter().try_fold(0u32, |value, &byte| Some(value << 4 | hex_value(byte)?))
}

fn parse_at(bytes: &[u8]) -> Option<Token> {
    let candidate = bytes.get(..TOKEN_BYTES)?;
    if candidate[1] != b'w' || candidate[6] != b's' || candidate[15] != b']' {
        return None;
    }
    Some(Token { writer: parse_hex(&candidate[2..6])?, seq: parse_hex(&candidate[7..15])? })
}

/// Calls `on_token` for every token found in `bytes` (an update, or a whole document state).
pub fn scan(bytes: &[u8], mut on_token: impl FnMut(Token)) {
    let mut position = 0;
    while let Some(offset) = bytes[position..].iter().position(|&byte| byte == b'[') {
        let start = position + offset;
        match parse_at(&bytes[start..]) {
            Some(token) => {
                on_token(token);
                position = start + TOKEN_BYTES;
            }
            None => position = start + 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_among_binary_bytes() {
        let first = Token { writer: 3, seq: 0x1234 };
        let second = Token { writer: 0xffff, seq: u32::MAX };
        assert_eq!(first.text().len(), TOKEN_BYTES);
        let mut bytes = vec![b'[', 0, 7, b'['];
        bytes.extend_from_slice(first.text().as_bytes());
        bytes.extend_from_slice(second.text().as_bytes());
        bytes.extend_from_slice(b"[w12");
        let mut found = Vec::new();
        scan(&bytes, |token| found.push(token));
        assert_eq!(found, vec![first, second]);
    }
}
