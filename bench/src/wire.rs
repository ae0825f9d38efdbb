//! Framing of y-websocket messages, and of the Hocuspocus variant of it.
//!
//! Outgoing messages are encoded with `yrs::sync` so that what the benchmark sends is exactly
//! what a Yjs provider sends. Incoming frames are parsed here by hand, borrowing from the frame:
//! the receiving side of the load generator must stay cheaper than the servers it measures, and
//! `yrs::sync::Message::decode_v1` copies every payload and parses awareness JSON.

use bytes::Bytes;
use yrs::StateVector;
use yrs::sync::protocol::{Message, SyncMessage};
use yrs::updates::encoder::Encode;

/// Which wire dialect the server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// The y-websocket protocol (`y-protocols` 1.0): one document per websocket, named by the URL.
    YWebsocket,
    /// Hocuspocus (v2 and later): every message starts with the document name, and the first
    /// message for a document must be an authentication message.
    Hocuspocus,
}

/// A message from the server, as far as a benchmark client cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// The server asks what we have: answer with a sync step 2.
    SyncStep1,
    /// The answer to our sync step 1: what we lacked. Receiving it means we are synced.
    SyncStep2(&'a [u8]),
    /// An incremental document update.
    Update(&'a [u8]),
}

// y-websocket message tags (y-protocols), shared by Hocuspocus.
const MESSAGE_SYNC: u64 = 0;
const MESSAGE_AWARENESS: u64 = 1;
const MESSAGE_AUTH: u64 = 2;
const MESSAGE_QUERY_AWARENESS: u64 = 3;
/// Hocuspocus only: a sync message that must not trigger another sync step 1.
const MESSAGE_SYNC_REPLY: u64 = 4;
const SYNC_STEP1: u64 = 0;
const SYNC_STEP2: u64 = 1;
const SYNC_UPDATE: u64 = 2;
/// Hocuspocus' `AuthMessageType.Token`.
const AUTH_TOKEN: u64 = 0;

/// Encodes and decodes the frames of one client connected to one document.
#[derive(Debug, Clone)]
pub struct Framer {
    protocol: Protocol,
    /// Hocuspocus: the document name as a lib0 var-string, prepended to every message.
    prefix: Vec<u8>,
}

impl Framer {
    /// A framer for `document` (only Hocuspocus puts the name in messages; y-websocket puts it
    /// in the URL).
    pub fn new(protocol: Protocol, document: &str) -> Self {
        let mut prefix = Vec::new();
        if protocol == Protocol::Hocuspocus {
            write_varint(&mut prefix, document.len() as u64);
            prefix.extend_from_slice(document.as_bytes());
        }
        Self { protocol, prefix }
    }

    fn frame(&self, message: &[u8]) -> Bytes {
        if self.prefix.is_empty() {
            return Bytes::copy_from_slice(message);
        }
        let mut frame = Vec::with_capacity(self.prefix.len() + message.len());
        frame.extend_from_slice(&self.prefix);
        frame.extend_from_slice(message);
        frame.into()
    }

    /// The messages a client sends when its socket opens: Hocuspocus' authentication (an empty
    /// token: the benchmark server has no `onAuthenticate` hook), then a sync step 1 with an
    /// empty state vector, as a fresh provider does.
    pub fn opening(&self) -> Vec<Bytes> {
        let mut frames = Vec::with_capacity(2);
        if self.protocol == Protocol::Hocuspocus {
            let mut auth = Vec::new();
            write_varint(&mut auth, MESSAGE_AUTH);
            write_varint(&mut auth, AUTH_TOKEN);
            write_varint(&mut auth, 0);
            frames.push(self.frame(&auth));
        }
        let step1 = Message::Sync(SyncMessage::SyncStep1(StateVector::default())).encode_v1();
        frames.push(self.frame(&step1));
        frames
    }

    /// A sync step 2 carrying `update`.
    pub fn sync_step2(&self, update: Vec<u8>) -> Bytes {
        self.frame(&Message::Sync(SyncMessage::SyncStep2(update)).encode_v1())
    }

    /// An update message carrying `update`.
    pub fn update(&self, update: Vec<u8>) -> Bytes {
        self.frame(&Message::Sync(SyncMessage::Update(update)).encode_v1())
    }

    /// Calls `on_message` for each sync message of `frame`; other messages (awareness,
    /// keep-alives, Hocuspocus' sync statuses) are skipped. Returns `false` if the frame could not
    /// be parsed to its end, which the caller counts.
    pub fn decode<'a>(&self, frame: &'a [u8], mut on_message: impl FnMut(Incoming<'a>)) -> bool {
        let mut reader = Reader { bytes: frame, position: 0 };
        if self.protocol == Protocol::Hocuspocus {
            // One message per frame, after the document name.
            if reader.read_bytes().is_none() {
                return false;
            }
            return decode_message(&mut reader, &mut on_message).is_some();
        }
        while !reader.is_empty() {
            if decode_message(&mut reader, &mut on_message).is_none() {
                return false;
            }
        }
        true
    }
}

/// Decodes one message; `None` when it is malformed or of a type whose length is unknown here.
fn decode_message<'a>(reader: &mut Reader<'a>, on_message: &mut impl FnMut(Incoming<'a>)) -> Option<()> {
    match reader.read_varint()? {
        MESSAGE_SYNC | MESSAGE_SYNC_REPLY => {
            let kind = reader.read_varint()?;
            let payload = reader.read_bytes()?;
            match kind {
                SYNC_STEP1 => on_message(Incoming::SyncStep1),
                SYNC_STEP2 => on_message(Incoming::SyncStep2(payload)),
                SYNC_UPDATE => on_message(Incoming::Update(payload)),
                _ => return None,
            }
        }
        MESSAGE_AWARENESS => {
            reader.read_bytes()?;
        }
        MESSAGE_QUERY_AWARENESS => {}
        MESSAGE_AUTH => {
            // Permission denied (0, reason) or Hocuspocus' authenticated (2, scope): a sub-type
            // and a string either way.
            reader.read_varint()?;
            reader.read_bytes()?;
        }
        // Hocuspocus' stateless, sync-status, ping and pong messages: the frame ends here.
        _ => reader.position = reader.bytes.len(),
    }
    Some(())
}

struct Reader<'a> {
    bytes: &'a [u8],
    position: usize,
}

impl<'a> Reader<'a> {
    fn is_empty(&self) -> bool {
        self.position >= self.bytes.len()
    }

    fn read_varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let byte = *self.bytes.get(self.position)?;
            self.position += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
            shift += 7;
            if shift > 56 {
                return None;
            }
        }
    }

    fn read_bytes(&mut self) -> Option<&'a [u8]> {
        let length = usize::try_from(self.read_varint()?).ok()?;
        let end = self.position.checked_add(length)?;
        let bytes = self.bytes.get(self.position..end)?;
        self.position = end;
        Some(bytes)
    }
}

fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value & 0x7f) as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// True if `frame` is a y-websocket sync step 1 (what the raw relay answers itself).
pub fn is_sync_step1(frame: &[u8]) -> bool {
    frame.starts_with(&[0, 0])
}

/// The y-websocket frame of a sync step 2 with an empty update: "you lack nothing".
pub const EMPTY_SYNC_STEP2: [u8; 5] = [0, 1, 2, 0, 0];

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(framer: &Framer, frame: &[u8]) -> (bool, Vec<String>) {
        let mut seen = Vec::new();
        let ok = framer.decode(frame, |message| seen.push(format!("{message:?}")));
        (ok, seen)
    }

    #[test]
    fn y_websocket_frames_round_trip() {
        let framer = Framer::new(Protocol::YWebsocket, "room");
        let opening = framer.opening();
        assert_eq!(opening.len(), 1);
        assert_eq!(opening[0].as_ref(), &[0, 0, 1, 0]);
        assert_eq!(collect(&framer, &opening[0]), (true, vec!["SyncStep1".to_owned()]));
        let step2 = framer.sync_step2(vec![0, 0]);
        assert_eq!(step2.as_ref(), &EMPTY_SYNC_STEP2);
        let update = framer.update(vec![1, 2, 3]);
        assert_eq!(collect(&framer, &update), (true, vec!["Update([1, 2, 3])".to_owned()]));
        // Awareness then an update in one frame; a keep-alive alone.
        let mut frame = vec![1, 1, 0];
        frame.extend_from_slice(&update);
        assert_eq!(collect(&framer, &frame).1, vec!["Update([1, 2, 3])".to_owned()]);
        assert_eq!(collect(&framer, &[1, 1, 0]), (true, vec![]));
        assert!(!collect(&framer, &[0, 2, 9, 1]).0);
    }

    #[test]
    fn hocuspocus_frames_carry_the_document_name() {
        let framer = Framer::new(Protocol::Hocuspocus, "doc");
        let opening = framer.opening();
        assert_eq!(opening[0].as_ref(), &[3, b'd', b'o', b'c', 2, 0, 0]);
        assert_eq!(opening[1].as_ref(), &[3, b'd', b'o', b'c', 0, 0, 1, 0]);
        let update = framer.update(vec![7]);
        assert_eq!(collect(&framer, &update).1, vec!["Update([7])".to_owned()]);
        // A sync-status message (type 8) is skipped; authenticated (2, 2, "read-write") too.
        assert_eq!(collect(&framer, &[3, b'd', b'o', b'c', 8, 1]), (true, vec![]));
        let mut authenticated = vec![3, b'd', b'o', b'c', 2, 2, 10];
        authenticated.extend_from_slice(b"read-write");
        assert_eq!(collect(&framer, &authenticated), (true, vec![]));
    }

    #[test]
    fn recognises_step1_for_the_raw_relay() {
        assert!(is_sync_step1(&[0, 0, 1, 0]));
        assert!(!is_sync_step1(&EMPTY_SYNC_STEP2));
    }
}
