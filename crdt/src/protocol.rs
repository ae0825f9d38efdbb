//! The y-websocket wire format, as spoken by the npm `y-websocket` provider and `y-protocols`.
//!
//! A websocket binary frame carries one or more messages, each starting with a varint type:
//! `0` sync (sub-type `0` step 1 with a state vector, `1` step 2 with an update, `2` update),
//! `1` awareness (a length-prefixed awareness update), `2` auth (`0` = permission denied plus a
//! reason string), `3` query awareness (no payload).
//! Decoding borrows from the frame and checks every length against what is left, so a truncated
//! or lying frame is an error, never a panic or an allocation larger than the frame.

use std::fmt;

/// Largest value a lib0 varint may carry: JavaScript clients stop at 53 bits.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// One decoded y-websocket message, borrowing its payload from the frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// Sync step 1: the sender's state vector (v1 encoding).
    SyncStep1(&'a [u8]),
    /// Sync step 2: an update holding what the receiver lacks.
    SyncStep2(&'a [u8]),
    /// An incremental document update.
    Update(&'a [u8]),
    /// An awareness update (presence: cursors, names).
    Awareness(&'a [u8]),
    /// Auth: permission denied, with a human-readable reason.
    PermissionDenied(&'a str),
    /// A request for the receiver's full awareness state.
    QueryAwareness,
}

/// Why a frame could not be decoded. Displayed as the close reason sent to the client, so it
/// stays short and never echoes the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("empty message")]
    Empty,
    #[error("truncated message")]
    Truncated,
    #[error("varint too long")]
    VarintOverflow,
    #[error("length beyond the end of the frame")]
    LengthBeyondFrame,
    #[error("unknown message type {0}")]
    UnknownMessageType(u64),
    #[error("unknown sync message type {0}")]
    UnknownSyncType(u64),
    #[error("unknown auth message type {0}")]
    UnknownAuthType(u64),
    #[error("invalid utf-8 in string")]
    InvalidUtf8,
    #[error("invalid json in awareness state")]
    InvalidJson,
    #[error("too many messages in one frame")]
    TooManyMessages,
}

/// Most messages a single frame may carry. Stock clients send one; the bound keeps a frame of
/// thousands of tiny query-awareness messages from turning into thousands of replies.
pub const MAX_MESSAGES_PER_FRAME: usize = 64;

/// Message type tags.
const MSG_SYNC: u64 = 0;
const MSG_AWARENESS: u64 = 1;
const MSG_AUTH: u64 = 2;
const MSG_QUERY_AWARENESS: u64 = 3;
const SYNC_STEP1: u64 = 0;
const SYNC_STEP2: u64 = 1;
const SYNC_UPDATE: u64 = 2;
const AUTH_PERMISSION_DENIED: u64 = 0;

/// A cursor over a byte slice with lib0 primitives that fail instead of panicking.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, position: 0 }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    pub(crate) fn read_varint(&mut self) -> Result<u64, DecodeError> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = *self.bytes.get(self.position).ok_or(DecodeError::Truncated)?;
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 49 {
                return Err(DecodeError::VarintOverflow);
            }
        }
        if value > MAX_SAFE_INTEGER {
            return Err(DecodeError::VarintOverflow);
        }
        Ok(value)
    }

    pub(crate) fn read_bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let length = self.read_varint()?;
        let remaining = self.bytes.len() - self.position;
        let length = usize::try_from(length).map_err(|_| DecodeError::LengthBeyondFrame)?;
        if length > remaining {
            return Err(DecodeError::LengthBeyondFrame);
        }
        let start = self.position;
        self.position += length;
        Ok(&self.bytes[start..self.position])
    }

    pub(crate) fn read_string(&mut self) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.read_bytes()?).map_err(|_| DecodeError::InvalidUtf8)
    }
}

/// Decodes every message of a frame. An empty frame, trailing garbage or any malformed
/// message fails the whole frame, so that nothing from a bad frame is applied.
pub fn decode_frame(frame: &[u8]) -> Result<Vec<Message<'_>>, DecodeError> {
    if frame.is_empty() {
        return Err(DecodeError::Empty);
    }
    let mut reader = Reader::new(frame);
    let mut messages = Vec::with_capacity(1);
    while !reader.is_empty() {
        if messages.len() == MAX_MESSAGES_PER_FRAME {
            return Err(DecodeError::TooManyMessages);
        }
        messages.push(decode_message(&mut reader)?);
    }
    Ok(messages)
}

fn decode_message<'a>(reader: &mut Reader<'a>) -> Result<Message<'a>, DecodeError> {
    match reader.read_varint()? {
        MSG_SYNC => match reader.read_varint()? {
            SYNC_STEP1 => Ok(Message::SyncStep1(reader.read_bytes()?)),
            SYNC_STEP2 => Ok(Message::SyncStep2(reader.read_bytes()?)),
            SYNC_UPDATE => Ok(Message::Update(reader.read_bytes()?)),
            other => Err(DecodeError::UnknownSyncType(other)),
        },
        MSG_AWARENESS => Ok(Message::Awareness(reader.read_bytes()?)),
        MSG_AUTH => match reader.read_varint()? {
            AUTH_PERMISSION_DENIED => Ok(Message::PermissionDenied(reader.read_string()?)),
            other => Err(DecodeError::UnknownAuthType(other)),
        },
        MSG_QUERY_AWARENESS => Ok(Message::QueryAwareness),
        other => Err(DecodeError::UnknownMessageType(other)),
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn with_header(tags: &[u64], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 12);
    for &tag in tags {
        write_varint(&mut out, tag);
    }
    write_bytes(&mut out, payload);
    out
}

/// A sync step 1 frame carrying `state_vector`.
pub fn encode_sync_step1(state_vector: &[u8]) -> Vec<u8> {
    with_header(&[MSG_SYNC, SYNC_STEP1], state_vector)
}

/// A sync step 2 frame carrying `update`.
pub fn encode_sync_step2(update: &[u8]) -> Vec<u8> {
    with_header(&[MSG_SYNC, SYNC_STEP2], update)
}

/// An update frame.
pub fn encode_update(update: &[u8]) -> Vec<u8> {
    with_header(&[MSG_SYNC, SYNC_UPDATE], update)
}

/// An awareness frame carrying an encoded awareness update.
pub fn encode_awareness(awareness_update: &[u8]) -> Vec<u8> {
    with_header(&[MSG_AWARENESS], awareness_update)
}

/// A query-awareness frame.
pub fn encode_query_awareness() -> Vec<u8> {
    vec![MSG_QUERY_AWARENESS as u8]
}

/// An auth "permission denied" frame; the stock provider emits it as a `permission-denied` event.
pub fn encode_permission_denied(reason: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(reason.len() + 4);
    write_varint(&mut out, MSG_AUTH);
    write_varint(&mut out, AUTH_PERMISSION_DENIED);
    write_bytes(&mut out, reason.as_bytes());
    out
}

/// A frame that changes nothing for the receiver: an awareness update with zero entries.
///
/// The stock provider closes and reconnects when it has received no message for 30 s, and
/// websocket pings do not count because browsers never surface them. This frame resets that
/// timer at a cost of three bytes and no event on the client.
pub fn encode_keepalive() -> Vec<u8> {
    vec![MSG_AWARENESS as u8, 1, 0]
}

impl fmt::Display for Message<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: payloads are user content and never belong in a log line.
        let name = match self {
            Message::SyncStep1(_) => "sync-step-1",
            Message::SyncStep2(_) => "sync-step-2",
            Message::Update(_) => "update",
            Message::Awareness(_) => "awareness",
            Message::PermissionDenied(_) => "permission-denied",
            Message::QueryAwareness => "query-awareness",
        };
        f.write_str(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_message_type() {
        let frames = [
            (encode_sync_step1(&[0]), Message::SyncStep1(&[0])),
            (encode_sync_step2(&[0, 0]), Message::SyncStep2(&[0, 0])),
            (encode_update(&[1, 2, 3]), Message::Update(&[1, 2, 3])),
            (encode_awareness(&[0]), Message::Awareness(&[0])),
            (encode_permission_denied("non"), Message::PermissionDenied("non")),
            (encode_query_awareness(), Message::QueryAwareness),
        ];
        for (frame, expected) in frames {
            assert_eq!(decode_frame(&frame).unwrap(), vec![expected]);
        }
    }

    #[test]
    fn golden_bytes_match_y_protocols() {
        // Produced by y-protocols 1.0.6: syncProtocol.writeSyncStep1 on an empty Y.Doc, and
        // awarenessProtocol.encodeAwarenessUpdate over zero clients.
        assert_eq!(encode_sync_step1(&[0]), vec![0, 0, 1, 0]);
        assert_eq!(encode_keepalive(), vec![1, 1, 0]);
        assert_eq!(encode_permission_denied("x"), vec![2, 0, 1, b'x']);
    }

    #[test]
    fn several_messages_in_one_frame() {
        let mut frame = encode_sync_step1(&[0]);
        frame.extend(encode_query_awareness());
        assert_eq!(decode_frame(&frame).unwrap().len(), 2);
    }

    #[test]
    fn malformed_frames_are_errors() {
        assert_eq!(decode_frame(&[]), Err(DecodeError::Empty));
        assert_eq!(decode_frame(&[0x80]), Err(DecodeError::Truncated));
        assert_eq!(decode_frame(&[9]), Err(DecodeError::UnknownMessageType(9)));
        assert_eq!(decode_frame(&[0, 7, 0]), Err(DecodeError::UnknownSyncType(7)));
        assert_eq!(decode_frame(&[0, 2, 10, 1]), Err(DecodeError::LengthBeyondFrame));
        assert_eq!(decode_frame(&[0, 2]), Err(DecodeError::Truncated));
        assert_eq!(decode_frame(&[0xff; 12]), Err(DecodeError::VarintOverflow));
        assert_eq!(decode_frame(&[2, 0, 2, 0xc3, 0x28]), Err(DecodeError::InvalidUtf8));
        assert_eq!(decode_frame(&[3; 65]), Err(DecodeError::TooManyMessages));
        // A valid message followed by garbage fails as a whole.
        let mut frame = encode_query_awareness();
        frame.push(0x80);
        assert_eq!(decode_frame(&frame), Err(DecodeError::Truncated));
    }

    #[test]
    fn every_prefix_and_mutation_of_a_frame_decodes_without_panic() {
        let frame = encode_update(&[1, 1, 5, 0, 4, 1, 4, 116, 101, 120, 116, 1, 97, 0]);
        for end in 0..=frame.len() {
            let _ = decode_frame(&frame[..end]);
        }
        for index in 0..frame.len() {
            for value in [0u8, 1, 0x7f, 0x80, 0xff] {
                let mut mutated = frame.clone();
                mutated[index] = value;
                let _ = decode_frame(&mutated);
            }
        }
    }
}
