//! A room: the task that owns one open document, its awareness and its clients.
//!
//! Flow of an edit: a connection sends the room a decoded message; the room applies it to its
//! document, keeping only what was new (the delta), and queues the delta. One commit at a time
//! goes to the persister; deltas that arrive meanwhile wait for the next one (group commit).
//! When a commit succeeds the room relays its deltas to every other client, so nothing is
//! relayed before it is durable. The room never awaits a client or the store once loaded: it
//! `try_send`s to client outboxes (a full one closes that client with 1013) and to its
//! persister, and learns results from channels it selects on.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use relais_crdt::{CrdtError, DocState, merge_updates, protocol};
use relais_storage::{DocumentId, Seq, StoredDocument};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::{Instrument, debug, error, info, warn};

use super::persister::{self, CatchUpItem, PersistJob, PersistResult};
use super::{ConnectionId, Hub};
use crate::bus::{self, BusEvent};
use crate::close::CloseReason;

/// A message from a client, already framed and owned.
#[derive(Debug, Clone)]
pub(crate) enum ClientMessage {
    SyncStep1(Bytes),
    /// A sync step 2 or an update: both carry an update to apply.
    Update(Bytes),
    Awareness(Bytes),
    QueryAwareness,
}

/// Commands a connection sends its room.
pub(crate) enum RoomCommand {
    Join {
        connection: ConnectionId,
        outbox: mpsc::Sender<Bytes>,
        kick: oneshot::Sender<CloseReason>,
        /// The user this connection's edits are attributed to.
        author: Option<Arc<str>>,
    },
    Messages { connection: ConnectionId, messages: Vec<ClientMessage> },
    Leave { connection: ConnectionId },
    /// An update made by the server for a user (a restore): applied, committed and relayed
    /// like a client's; `ack` learns the seq it was committed at, or that it was not.
    Apply { update: Bytes, author: Option<Arc<str>>, ack: oneshot::Sender<Result<Seq, ApplyError>> },
    /// The document was frozen for review (or unfrozen) by this node: refuse edits at once,
    /// without waiting for the access watch.
    SetFrozen(bool),
    /// Answers once every edit the room has applied is committed, so that a read of the store
    /// afterwards sees what clients were shown (named versions, submissions).
    Flush(oneshot::Sender<()>),
}

/// Why a server-made update was not committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("the document is frozen for review")]
    Frozen,
    #[error("the update is not valid for this document")]
    Invalid,
    #[error("the document could not be saved")]
    Failed,
}

/// The sending side of a room's bounded inbox.
#[derive(Clone)]
pub(crate) struct RoomHandle {
    sender: mpsc::Sender<RoomCommand>,
    generation: u64,
}

impl RoomHandle {
    pub(super) fn new(sender: mpsc::Sender<RoomCommand>, generation: u64) -> Self {
        Self { sender, generation }
    }

    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    pub(super) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    /// Waits for room in the inbox: this is how a fast sender is slowed at its own socket.
    /// Fails only when the room has exited, giving the command back.
    pub(crate) async fn send(&self, command: RoomCommand) -> Result<(), RoomCommand> {
        self.sender.send(command).await.map_err(|error| error.0)
    }

    /// Sends without waiting; gives the command back if the inbox is full or closed.
    pub(super) fn try_send(&self, command: RoomCommand) -> Result<(), RoomCommand> {
        self.sender.try_send(command).map_err(|error| match error {
            mpsc::error::TrySendError::Full(command) | mpsc::error::TrySendError::Closed(command) => command,
        })
    }
}

struct Client {
    outbox: mpsc::Sender<Bytes>,
    kick: Option<oneshot::Sender<CloseReason>>,
    /// Awareness client ids this connection announced, removed when it leaves.
    awareness_ids: HashSet<u64>,
    author: Option<Arc<str>>,
}

struct Pending {
    delta: Bytes,
    /// The connection it came from, which does not need it back; `None` after merging.
    origin: Option<ConnectionId>,
    received_at: Instant,
    /// Who waits to learn whether it was committed (server-made updates).
    acks: Vec<oneshot::Sender<Result<Seq, ApplyError>>>,
}

impl Pending {
    fn answer(self, outcome: Result<Seq, ApplyError>) {
        for ack in self.acks {
            let _ = ack.send(outcome);
        }
    }
}

/// Awareness client ids one connection may speak for. A browser tab has one; a few more allow
/// for clients that multiplex documents.
const MAX_AWARENESS_IDS_PER_CONNECTION: usize = 32;

/// Updates since the last snapshot below which a closing room writes none.
const FINAL_SNAPSHOT_MIN_UPDATES: u64 = 100;

/// Pending deltas beyond which they are merged into one while a commit is slow.
const MERGE_PENDING_ABOVE: usize = 1024;

struct Room {
    hub: Hub,
    document: DocumentId,
    generation: u64,
    doc: DocState,
    clients: HashMap<ConnectionId, Client>,
    pending: Vec<Pending>,
    in_flight: Option<Vec<Pending>>,
    in_flight_since: Instant,
    /// Highest seq such that every update up to it is applied here.
    watermark: Seq,
    updates_since_snapshot: u64,
    snapshot_in_flight: bool,
    persist_jobs: mpsc::Sender<PersistJob>,
    persist_results: mpsc::Receiver<PersistResult>,
    empty_since: Option<Instant>,
    /// This document's bus subscription, when several nodes share the store.
    subscription: Option<async_nats::Subscriber>,
    catch_up_in_flight: bool,
    catch_up_wanted: bool,
    /// Under review: updates are refused before they touch the document.
    frozen: bool,
    history: History,
    flush_waiters: Vec<oneshot::Sender<()>>,
}

/// What the room tracks for version history: who edits, and when to take a version.
#[derive(Default)]
struct History {
    /// Yjs client ids whose owner is recorded (or being recorded) in the store.
    known_clients: HashSet<u64>,
    /// Users who edited since the last version this room took.
    authors: HashSet<Arc<str>>,
    /// When the first edit since the last version was committed.
    dirty_since: Option<Instant>,
    /// A version is wanted as soon as the room is flushed (the last editor left).
    wanted: bool,
    /// (client id, user id) pairs to record with the next commit.
    to_record: Vec<(u64, String)>,
}

/// Starts the room task of `document`; it loads the document before serving its inbox.
pub(super) fn spawn(hub: Hub, document: DocumentId, generation: u64, inbox: mpsc::Receiver<RoomCommand>) {
    let span = tracing::info_span!("room", document = %document);
    let tracker = hub.tracker().clone();
    let supervisor_hub = hub.clone();
    let supervisor_document = document.clone();
    let task = tracker.spawn(run(hub, document, generation, inbox).instrument(span));
    // A panic outside the guarded yrs calls still must not leave a dead entry behind: the
    // room's clients see their outbox close and disconnect with 1011; the next join reloads.
    tracker.spawn(async move {
        if let Err(join_error) = task.await
            && join_error.is_panic()
        {
            error!(document = %supervisor_document, "room task panicked; its clients are closed and it reloads on next join");
            supervisor_hub.remove_room(&supervisor_document, generation);
        }
    });
}

async fn run(hub: Hub, document: DocumentId, generation: u64, mut inbox: mpsc::Receiver<RoomCommand>) {
    // Subscribe before loading: whatever another node commits after our read arrives on the
    // bus, and whatever it committed before is in what we read. Duplicates are dropped by seq.
    let subscription = match hub.bus() {
        Some(bus) => match bus.subscribe(&document).await {
            Ok(subscription) => Some(subscription),
            Err(error) => {
                error!(error = %error, "cannot subscribe to the document on the bus");
                refuse_joins(&hub, &document, generation, &mut inbox).await;
                return;
            }
        },
        None => None,
    };
    let loaded = tokio::select! {
        loaded = hub.store().load(&document) => loaded,
        () = hub.shutdown_token().cancelled() => {
            hub.remove_room(&document, generation);
            return;
        }
    };
    let (doc, watermark) = match loaded.map_err(LoadError::Store).and_then(build_document) {
        Ok(built) => built,
        Err(load_error) => {
            error!(error = %load_error, "cannot load document; closing its clients");
            refuse_joins(&hub, &document, generation, &mut inbox).await;
            return;
        }
    };
    // A document under review starts frozen; access makes its connections read-only too.
    let frozen = match hub.versions().is_frozen(&document).await {
        Ok(frozen) => frozen,
        Err(error) => {
            error!(error = %error, "cannot read whether the document is under review; closing its clients");
            refuse_joins(&hub, &document, generation, &mut inbox).await;
            return;
        }
    };
    let (persist_jobs, persist_results) = persister::spawn(
        hub.store().clone(),
        hub.versions().clone(),
        document.clone(),
        hub.tracker(),
        hub.hard_stop_token(),
        hub.snapshot_permits(),
    );
    let room = Room {
        hub,
        document,
        generation,
        doc,
        clients: HashMap::new(),
        pending: Vec::new(),
        in_flight: None,
        in_flight_since: Instant::now(),
        watermark,
        updates_since_snapshot: 0,
        snapshot_in_flight: false,
        persist_jobs,
        persist_results,
        empty_since: Some(Instant::now()),
        subscription,
        catch_up_in_flight: false,
        catch_up_wanted: false,
        frozen,
        history: History::default(),
        flush_waiters: Vec::new(),
    };
    room.serve(inbox).await;
}

/// The room cannot start: leave the registry and close whoever tried to join.
async fn refuse_joins(hub: &Hub, document: &DocumentId, generation: u64, inbox: &mut mpsc::Receiver<RoomCommand>) {
    hub.remove_room(document, generation);
    inbox.close();
    while let Some(command) = inbox.recv().await {
        if let RoomCommand::Join { kick, .. } = command {
            let _ = kick.send(CloseReason::Internal);
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("storage: {0}")]
    Store(#[from] relais_storage::StoreError),
    #[error("document engine: {0}")]
    Crdt(#[from] CrdtError),
}

fn build_document(stored: StoredDocument) -> Result<(DocState, Seq), LoadError> {
    let watermark = stored
        .updates
        .last()
        .map(|update| update.seq)
        .or(stored.snapshot.as_ref().map(|snapshot| snapshot.upto_seq))
        .unwrap_or_default();
    let (doc, skipped) = DocState::load(
        stored.snapshot.as_ref().map(|snapshot| snapshot.state.as_ref()),
        stored.updates.iter().map(|update| update.update.as_ref()),
    )?;
    if skipped > 0 {
        error!(skipped, "stored updates could not be decoded and were skipped");
    }
    debug!(watermark = watermark.0, "document loaded");
    Ok((doc, watermark))
}

impl Room {
    async fn serve(mut self, mut inbox: mpsc::Receiver<RoomCommand>) {
        let grace = self.hub.config().room_grace;
        let shutdown = self.hub.shutdown_token().clone();
        let mut idle_check = tokio::time::interval(grace.max(Duration::from_millis(50)) / 2);
        idle_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut shutting_down = false;
        let mut reconnects = self.hub.bus().map(|bus| {
            let mut receiver = bus.reconnects();
            receiver.borrow_and_update();
            receiver
        });
        loop {
            tokio::select! {
                command = inbox.recv(), if !shutting_down => match command {
                    Some(command) => {
                        if let Err(exit) = self.handle(command) {
                            self.fail(exit);
                            return;
                        }
                    }
                    None => shutting_down = true,
                },
                Some(result) = self.persist_results.recv() => {
                    if let Err(exit) = self.on_persisted(result) {
                        self.fail(exit);
                        return;
                    }
                }
                Some(event) = bus::next_event(&mut self.subscription) => {
                    if let Err(exit) = self.on_bus_event(event) {
                        self.fail(exit);
                        return;
                    }
                }
                Some(()) = changed(&mut reconnects) => {
                    // We may have missed events while the bus was away.
                    self.request_catch_up();
                }
                () = shutdown.cancelled(), if !shutting_down => {
                    shutting_down = true;
                    self.kick_all(CloseReason::ShuttingDown);
                }
                _ = idle_check.tick() => {
                    self.maybe_take_version();
                    let idle = self.empty_since.is_some_and(|since| since.elapsed() >= grace);
                    if idle && self.is_flushed() && self.leave_registry_if_idle(&mut inbox) {
                        self.close();
                        return;
                    }
                }
            }
            if !self.flush_waiters.is_empty() && self.pending.is_empty() && self.in_flight.is_none() {
                for waiter in self.flush_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            #[cfg(debug_assertions)]
            self.check_invariants();
            if shutting_down && self.is_flushed() {
                self.hub.remove_room(&self.document, self.generation);
                self.close();
                return;
            }
        }
    }

    /// Debug builds (and so the end-to-end tests) check these after every event.
    #[cfg(debug_assertions)]
    fn check_invariants(&self) {
        assert_eq!(self.empty_since.is_some(), self.clients.is_empty(), "empty_since tracks the client set");
        assert!(
            self.clients.values().all(|client| client.awareness_ids.len() <= MAX_AWARENESS_IDS_PER_CONNECTION),
            "no connection speaks for more awareness states than allowed"
        );
        assert!(self.in_flight.as_ref().is_none_or(|batch| !batch.is_empty()), "no empty commit in flight");
    }

    fn is_flushed(&self) -> bool {
        self.in_flight.is_none() && self.pending.is_empty() && !self.snapshot_in_flight
    }

    /// Leaves the registry if nothing waits in the inbox, atomically with respect to joins
    /// (see [`Hub::join`]), and closes the inbox so that later sends fail and are retried.
    fn leave_registry_if_idle(&self, inbox: &mut mpsc::Receiver<RoomCommand>) -> bool {
        self.hub.remove_room_if(&self.document, self.generation, || {
            if inbox.is_empty() {
                inbox.close();
                true
            } else {
                false
            }
        })
    }

    /// Hands a final snapshot to the persister, which outlives us, unless the log since the
    /// last one is short: replaying it on the next load is cheaper than a snapshot, and many
    /// rooms closing together would otherwise write many snapshots at once.
    fn close(mut self) {
        if self.history.dirty_since.is_some() {
            self.take_version();
        }
        if self.updates_since_snapshot >= FINAL_SNAPSHOT_MIN_UPDATES {
            self.start_snapshot();
        }
        info!(clients = self.clients.len(), "room closed");
    }

    /// The document engine panicked: nothing in memory can be trusted. Queue what was already
    /// accepted (it was computed before the panic), close everyone with 1011 and exit; the next
    /// join loads the document from storage.
    fn fail(mut self, exit: Exit) {
        self.hub.remove_room(&self.document, self.generation);
        let handed_off = self.pending.len() + self.in_flight.as_ref().map_or(0, Vec::len);
        self.hub.metrics().pending_updates.dec_by(handed_off as i64);
        match exit {
            Exit::Poisoned => {
                error!("document engine failed; closing the room's clients with 1011");
                // What is pending goes to the persister below or is dropped; either way it
                // leaves us.
                if self.in_flight.is_none() && !self.pending.is_empty() {
                    self.start_commit();
                }
                self.kick_all(CloseReason::Internal);
            }
            Exit::Frozen => {
                // The store refused edits this room had applied: its state is ahead of the
                // store. Drop it; clients reconnect to a fresh room and resync, read-only.
                info!("document frozen for review with edits not yet saved; reloading");
                for pending in self.in_flight.take().into_iter().flatten().chain(self.pending.drain(..)) {
                    pending.answer(Err(ApplyError::Frozen));
                }
                self.kick_all(CloseReason::Reloading);
            }
        }
    }

    fn handle(&mut self, command: RoomCommand) -> Result<(), Exit> {
        match command {
            RoomCommand::Join { connection, outbox, kick, author } => {
                self.empty_since = None;
                let client = Client { outbox, kick: Some(kick), awareness_ids: HashSet::new(), author };
                self.clients.insert(connection, client);
                // Our step 1 makes the client send what we lack; then the awareness we hold.
                self.send_to(connection, protocol::encode_sync_step1(&self.doc.state_vector()).into());
                if let Some(awareness) = self.doc.awareness_state() {
                    self.send_to(connection, protocol::encode_awareness(&awareness).into());
                }
                debug!(%connection, clients = self.clients.len(), "joined");
            }
            RoomCommand::Messages { connection, messages } => {
                for message in messages {
                    if !self.clients.contains_key(&connection) {
                        break;
                    }
                    self.on_message(connection, message)?;
                }
            }
            RoomCommand::Leave { connection } => self.remove_client(connection, None),
            RoomCommand::Apply { update, author, ack } => {
                if self.frozen {
                    let _ = ack.send(Err(ApplyError::Frozen));
                    return Ok(());
                }
                match self.doc.apply_update(&update) {
                    Ok(applied) => {
                        self.note_authors(&applied.clients, author.as_ref());
                        match applied.delta {
                            Some(delta) => {
                                self.pending.push(Pending {
                                    delta: delta.into(),
                                    origin: None,
                                    received_at: Instant::now(),
                                    acks: vec![ack],
                                });
                                self.hub.metrics().pending_updates.inc();
                                self.after_accept();
                            }
                            // Nothing new: already there, at the current watermark at most.
                            None => {
                                let _ = ack.send(Ok(self.watermark));
                            }
                        }
                    }
                    Err(CrdtError::Malformed { .. }) => {
                        let _ = ack.send(Err(ApplyError::Invalid));
                    }
                    Err(CrdtError::Panicked) => {
                        let _ = ack.send(Err(ApplyError::Failed));
                        return Err(Exit::Poisoned);
                    }
                }
            }
            RoomCommand::SetFrozen(frozen) => self.frozen = frozen,
            RoomCommand::Flush(reply) => self.flush_waiters.push(reply),
        }
        Ok(())
    }

    /// Remembers who edited, and records client ids not seen before with their user.
    fn note_authors(&mut self, clients: &[u64], author: Option<&Arc<str>>) {
        let Some(author) = author else { return };
        if !self.history.authors.contains(author) {
            self.history.authors.insert(author.clone());
        }
        if clients.iter().all(|client| self.history.known_clients.contains(client)) {
            return;
        }
        let new: Vec<(u64, String)> = clients
            .iter()
            .filter(|client| self.history.known_clients.insert(**client))
            .map(|client| (*client, author.to_string()))
            .collect();
        // Recorded by the persister just before the commit carrying these edits, so that
        // whoever reads a version after a flush can attribute them.
        self.history.to_record.extend(new);
    }

    /// Takes an automatic version when edits have gone on for the configured interval, or
    /// when one is wanted (the last editor left) — only when everything applied is committed,
    /// so the version's state is exactly the log up to the watermark.
    fn maybe_take_version(&mut self) {
        let Some(dirty_since) = self.history.dirty_since else { return };
        let due = self.history.wanted || dirty_since.elapsed() >= self.hub.config().version_interval;
        if due && self.pending.is_empty() && self.in_flight.is_none() {
            self.take_version();
        }
    }

    fn take_version(&mut self) {
        let state = match self.doc.encode_state() {
            Ok(state) => state,
            Err(error) => {
                error!(error = %error, "cannot encode the document for a version");
                return;
            }
        };
        let mut authors: Vec<String> = std::mem::take(&mut self.history.authors).iter().map(ToString::to_string).collect();
        authors.sort();
        self.history.dirty_since = None;
        self.history.wanted = false;
        let version = relais_storage::NewVersion {
            document: self.document.clone(),
            kind: relais_storage::VersionKind::Auto,
            name: None,
            created_by: None,
            authors,
            upto_seq: self.watermark,
            state: state.into(),
            created_at_ms: crate::auth::now_ms(),
        };
        let versions = self.hub.versions().clone();
        let metrics = self.hub.shared_metrics();
        self.hub.tracker().spawn(
            async move {
                match versions.create_version(version).await {
                    Ok(Some(version)) => {
                        metrics.versions_created.inc();
                        debug!(number = version.number, upto = version.upto_seq.0, "automatic version taken");
                    }
                    Ok(None) => {}
                    Err(error) => warn!(error = %error, "cannot take an automatic version"),
                }
            }
            .in_current_span(),
        );
    }

    fn on_message(&mut self, connection: ConnectionId, message: ClientMessage) -> Result<(), Exit> {
        match message {
            ClientMessage::SyncStep1(state_vector) => match self.doc.diff(&state_vector) {
                Ok(diff) => self.send_to(connection, protocol::encode_sync_step2(&diff).into()),
                Err(CrdtError::Malformed { .. }) => {
                    self.remove_client(connection, Some(CloseReason::InvalidPayload("state vector")));
                }
                Err(CrdtError::Panicked) => return Err(Exit::Poisoned),
            },
            ClientMessage::Update(update) if self.frozen => {
                // As for a reader: never applied, never stored, never relayed.
                if super::connection::worth_refusing(&update, false) {
                    self.hub.metrics().updates_refused.inc();
                    self.send_to(connection, protocol::encode_permission_denied("document under review").into());
                }
            }
            ClientMessage::Update(update) => match self.apply_client_update(&update) {
                Ok(applied) => {
                    if let Some(delta) = applied.delta {
                        let author = self.clients.get(&connection).and_then(|client| client.author.clone());
                        self.note_authors(&applied.clients, author.as_ref());
                        self.pending.push(Pending {
                            delta: delta.into(),
                            origin: Some(connection),
                            received_at: Instant::now(),
                            acks: Vec::new(),
                        });
                        self.hub.metrics().pending_updates.inc();
                        self.after_accept();
                    }
                }
                Err(CrdtError::Malformed { .. }) => {
                    self.remove_client(connection, Some(CloseReason::InvalidPayload("update")));
                }
                Err(CrdtError::Panicked) => return Err(Exit::Poisoned),
            },
            ClientMessage::Awareness(bytes) => match self.doc.apply_awareness(&bytes) {
                Ok(change) => {
                    if let Some(client) = self.clients.get_mut(&connection) {
                        client.awareness_ids.extend(change.present);
                        for id in &change.removed {
                            client.awareness_ids.remove(id);
                        }
                        if client.awareness_ids.len() > MAX_AWARENESS_IDS_PER_CONNECTION {
                            // Its states are removed and announced with the client.
                            self.remove_client(connection, Some(CloseReason::Policy("too many awareness states")));
                            return Ok(());
                        }
                    }
                    if let Some(relay) = change.relay {
                        // Back to the sender too: the stock client's liveness timer counts
                        // only messages it receives, and reference servers echo as well.
                        self.broadcast(&protocol::encode_awareness(&relay).into(), None);
                        self.publish_awareness(relay);
                    }
                }
                Err(_) => self.remove_client(connection, Some(CloseReason::InvalidPayload("awareness update"))),
            },
            ClientMessage::QueryAwareness => {
                if let Some(awareness) = self.doc.awareness_state() {
                    self.send_to(connection, protocol::encode_awareness(&awareness).into());
                }
            }
        }
        Ok(())
    }

    fn apply_client_update(&mut self, update: &[u8]) -> Result<relais_crdt::AppliedUpdate, CrdtError> {
        // Test builds only: a marker in an update crashes the room task, so that tests can
        // check what a panic does to a room and to everyone else.
        #[cfg(debug_assertions)]
        if fault_injection_enabled() && update.windows(FAULT_MARKER.len()).any(|w| w == FAULT_MARKER) {
            panic!("fault injection: room task crashes on purpose");
        }
        self.doc.apply_update(update)
    }

    fn after_accept(&mut self) {
        if self.in_flight.is_none() {
            self.start_commit();
        } else if self.pending.len() > MERGE_PENDING_ABOVE {
            // The store is slow or down: keep memory bounded by folding the queue into one
            // update. Its relay then goes to everyone, origins included (Yjs ignores echoes).
            let parts: Vec<&[u8]> = self.pending.iter().map(|p| p.delta.as_ref()).collect();
            match merge_updates(&parts) {
                Ok(merged) => {
                    let received_at = self.pending.first().map_or_else(Instant::now, |p| p.received_at);
                    self.hub.metrics().pending_updates.dec_by(self.pending.len() as i64 - 1);
                    let acks = self.pending.drain(..).flat_map(|pending| pending.acks).collect();
                    self.pending = vec![Pending { delta: merged.into(), origin: None, received_at, acks }];
                }
                Err(error) => warn!(error = %error, "could not merge pending updates"),
            }
        }
    }

    fn start_commit(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let max = self.hub.config().max_batch_updates;
        let take = self.pending.len().min(max);
        let batch: Vec<Pending> = self.pending.drain(..take).collect();
        let updates = batch.iter().map(|p| p.delta.clone()).collect();
        let clients = std::mem::take(&mut self.history.to_record);
        let job = PersistJob::Append { updates, watermark: self.watermark, clients };
        match self.persist_jobs.try_send(job) {
            Ok(()) => {
                self.in_flight = Some(batch);
                self.in_flight_since = Instant::now();
            }
            Err(error) => {
                if let PersistJob::Append { clients, .. } = error.into_inner() {
                    self.history.to_record = clients;
                }
                // Only a snapshot can occupy the persister now; retry when its result arrives.
                let mut rest = std::mem::take(&mut self.pending);
                self.pending = batch;
                self.pending.append(&mut rest);
            }
        }
    }

    fn on_persisted(&mut self, result: PersistResult) -> Result<(), Exit> {
        match result {
            PersistResult::Appended { range, catch_up } => {
                // When everything below `range.first` is applied (the persister fetched any
                // gap), the watermark may jump to the end of our own batch.
                if self.apply_catch_up(catch_up)? && self.watermark.next() >= range.first {
                    self.watermark = self.watermark.max(range.last);
                } else {
                    self.request_catch_up();
                }
                let batch = self.in_flight.take().unwrap_or_default();
                self.updates_since_snapshot += batch.len() as u64;
                let metrics = self.hub.metrics();
                metrics.updates_committed.inc_by(batch.len() as u64);
                metrics.pending_updates.dec_by(batch.len() as i64);
                metrics.commit_seconds.observe(self.in_flight_since.elapsed().as_secs_f64());
                metrics.commit_batch_updates.observe(batch.len() as f64);
                if let Some(bus) = self.hub.bus() {
                    let updates = batch.iter().map(|pending| pending.delta.clone()).collect();
                    let event = BusEvent::Committed {
                        node: bus.node(),
                        committed_at_ms: bus::unix_millis(),
                        first_seq: range.first,
                        last_seq: range.last,
                        updates,
                    };
                    bus.publish(&self.document, &event);
                }
                self.relay_batch(&batch);
                if self.history.dirty_since.is_none() {
                    self.history.dirty_since = Some(Instant::now());
                }
                for pending in batch {
                    pending.answer(Ok(range.last));
                }
                self.maybe_take_version();
                if self.updates_since_snapshot >= self.hub.config().snapshot_every_updates && !self.snapshot_in_flight {
                    self.start_snapshot();
                }
                self.start_commit();
                if self.catch_up_wanted && !self.catch_up_in_flight {
                    self.catch_up_wanted = false;
                    self.request_catch_up();
                }
            }
            PersistResult::CaughtUp(items) => {
                self.catch_up_in_flight = false;
                self.apply_catch_up(items)?;
                if std::mem::take(&mut self.catch_up_wanted) {
                    self.request_catch_up();
                }
            }
            PersistResult::AppendFailed => {
                // Nothing of it was relayed, so its authors still hold it as unconfirmed: make
                // them reconnect, and their sync step 2 resends it to a fresh room.
                let unsaved: Vec<Pending> = self.in_flight.take().into_iter().flatten().chain(self.pending.drain(..)).collect();
                self.hub.metrics().pending_updates.dec_by(unsaved.len() as i64);
                error!(unsaved = unsaved.len(), "cannot commit updates; closing the room so that clients resend them");
                for pending in unsaved {
                    pending.answer(Err(ApplyError::Failed));
                }
                return Err(Exit::Poisoned);
            }
            PersistResult::AppendRefused => {
                self.frozen = true;
                return Err(Exit::Frozen);
            }
            PersistResult::Snapshotted(outcome) => {
                self.snapshot_in_flight = false;
                match outcome {
                    Ok(info) => {
                        self.hub.metrics().snapshots_written.inc();
                        debug!(upto = info.upto_seq.0, bytes = info.len, pruned = info.pruned_updates, "snapshot written");
                    }
                    Err(error) => {
                        self.hub.metrics().snapshot_failures.inc();
                        // The updates stay in the log; the next threshold tries again.
                        warn!(error = %error, "snapshot failed; updates stay in the log");
                    }
                }
                if self.in_flight.is_none() {
                    self.start_commit();
                }
            }
        }
        Ok(())
    }

    /// Relays a committed batch. Several deltas go out merged as one update, so a client
    /// gets one frame per commit rather than one per delta: fewer outbox slots, writes and
    /// system calls. The authors get their own edits back inside it, which Yjs ignores; a
    /// single delta still skips its author.
    fn relay_batch(&mut self, batch: &[Pending]) {
        let merged = match batch {
            [] => return,
            [_] => None,
            _ => {
                let parts: Vec<&[u8]> = batch.iter().map(|pending| pending.delta.as_ref()).collect();
                merge_updates(&parts).ok()
            }
        };
        match merged {
            Some(merged) => self.broadcast(&protocol::encode_update(&merged).into(), None),
            None => {
                for pending in batch {
                    self.broadcast(&protocol::encode_update(&pending.delta).into(), pending.origin);
                }
            }
        }
        let metrics = self.hub.metrics();
        for pending in batch {
            metrics.relay_delay_seconds.observe(pending.received_at.elapsed().as_secs_f64());
        }
    }

    /// Applies updates other nodes committed, in seq order, relaying what is new to our
    /// clients and advancing the watermark. Stops at a gap, asks for another catch-up and
    /// returns false.
    fn apply_catch_up(&mut self, items: Vec<CatchUpItem>) -> Result<bool, Exit> {
        for item in items {
            let seq = item.stored.seq;
            if !item.is_whole_document {
                if seq <= self.watermark {
                    continue;
                }
                if seq != self.watermark.next() {
                    self.request_catch_up();
                    return Ok(false);
                }
            }
            self.apply_remote(&item.stored.update, seq)?;
            self.watermark = self.watermark.max(seq);
        }
        Ok(true)
    }

    fn apply_remote(&mut self, update: &[u8], seq: Seq) -> Result<(), Exit> {
        match self.doc.apply_update(update) {
            Ok(applied) => {
                if let Some(delta) = applied.delta {
                    self.broadcast(&protocol::encode_update(&delta).into(), None);
                }
                Ok(())
            }
            Err(CrdtError::Malformed { .. }) => {
                error!(seq = seq.0, "a committed update is unreadable; skipping it");
                Ok(())
            }
            Err(CrdtError::Panicked) => Err(Exit::Poisoned),
        }
    }

    fn on_bus_event(&mut self, event: BusEvent) -> Result<(), Exit> {
        let own_node = self.hub.bus().map(|bus| bus.node());
        match event {
            BusEvent::Committed { node, .. } | BusEvent::Awareness { node, .. } if Some(node) == own_node => {}
            BusEvent::Committed { first_seq, last_seq, updates, committed_at_ms, .. } => {
                let metrics = self.hub.metrics();
                metrics.bus_events_received.inc();
                let lag_ms = bus::unix_millis().saturating_sub(committed_at_ms);
                metrics.bus_lag_seconds.observe(lag_ms as f64 / 1000.0);
                if last_seq <= self.watermark {
                    return Ok(());
                }
                if first_seq > self.watermark.next() || updates.is_empty() {
                    self.request_catch_up();
                    return Ok(());
                }
                for (offset, update) in updates.iter().enumerate() {
                    let seq = Seq(first_seq.0 + offset as u64);
                    if seq <= self.watermark {
                        continue;
                    }
                    self.apply_remote(update, seq)?;
                    self.watermark = seq;
                }
            }
            BusEvent::Awareness { update, .. } => {
                if let Ok(change) = self.doc.apply_awareness(&update)
                    && let Some(relay) = change.relay
                {
                    self.broadcast(&protocol::encode_awareness(&relay).into(), None);
                }
            }
        }
        Ok(())
    }

    fn request_catch_up(&mut self) {
        if self.catch_up_in_flight {
            self.catch_up_wanted = true;
            return;
        }
        match self.persist_jobs.try_send(PersistJob::CatchUp { watermark: self.watermark }) {
            Ok(()) => {
                self.catch_up_in_flight = true;
                self.hub.metrics().bus_catch_ups.inc();
            }
            Err(_) => self.catch_up_wanted = true,
        }
    }

    fn publish_awareness(&self, update: Vec<u8>) {
        if let Some(bus) = self.hub.bus() {
            bus.publish(&self.document, &BusEvent::Awareness { node: bus.node(), update: update.into() });
        }
    }

    fn start_snapshot(&mut self) {
        let state = match self.doc.encode_state() {
            Ok(state) => state,
            Err(error) => {
                error!(error = %error, "cannot encode the document for a snapshot");
                return;
            }
        };
        let job = PersistJob::Snapshot { upto: self.watermark, state: state.into() };
        if self.persist_jobs.try_send(job).is_ok() {
            self.snapshot_in_flight = true;
            self.updates_since_snapshot = 0;
        }
    }

    fn send_to(&mut self, connection: ConnectionId, frame: Bytes) {
        let outcome = match self.clients.get(&connection) {
            Some(client) => client.outbox.try_send(frame),
            None => return,
        };
        match outcome {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.remove_client(connection, Some(CloseReason::TooSlow)),
            Err(mpsc::error::TrySendError::Closed(_)) => self.remove_client(connection, None),
        }
    }

    /// Sends `frame` to every client but `except`; clients that cannot take it are removed.
    fn broadcast(&mut self, frame: &Bytes, except: Option<ConnectionId>) {
        let mut too_slow = Vec::new();
        let mut gone = Vec::new();
        for (&connection, client) in &self.clients {
            if Some(connection) == except {
                continue;
            }
            match client.outbox.try_send(frame.clone()) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => too_slow.push(connection),
                Err(mpsc::error::TrySendError::Closed(_)) => gone.push(connection),
            }
        }
        for connection in too_slow {
            self.remove_client(connection, Some(CloseReason::TooSlow));
        }
        for connection in gone {
            self.remove_client(connection, None);
        }
    }

    /// Removes a client, closing it with `reason` if given, and tells the others its
    /// awareness states are gone.
    fn remove_client(&mut self, connection: ConnectionId, reason: Option<CloseReason>) {
        let Some(mut client) = self.clients.remove(&connection) else { return };
        if let Some(reason) = reason {
            if reason == CloseReason::TooSlow {
                warn!(%connection, "client too slow; closing it with 1013");
            }
            if let Some(kick) = client.kick.take() {
                let _ = kick.send(reason);
            }
        }
        let ids: Vec<u64> = client.awareness_ids.into_iter().collect();
        if let Some(removal) = self.doc.remove_awareness(&ids) {
            self.broadcast(&protocol::encode_awareness(&removal).into(), None);
            self.publish_awareness(removal);
        }
        if self.clients.is_empty() {
            self.empty_since = Some(Instant::now());
            // The last editor left: keep what they did as a version.
            if self.history.dirty_since.is_some() {
                self.history.wanted = true;
                self.maybe_take_version();
            }
        }
        debug!(%connection, clients = self.clients.len(), "left");
    }

    fn kick_all(&mut self, reason: CloseReason) {
        for (_, mut client) in self.clients.drain() {
            if let Some(kick) = client.kick.take() {
                let _ = kick.send(reason.clone());
            }
        }
        self.empty_since = Some(Instant::now());
    }
}

/// Why the room must stop: its in-memory state cannot go on.
enum Exit {
    /// The document engine panicked.
    Poisoned,
    /// The store refused applied edits: the document was frozen for review.
    Frozen,
}

#[cfg(debug_assertions)]
const FAULT_MARKER: &[u8] = b"__relais_fault_injection_panic__";

/// Debug builds honour `RELAIS_FAULT_INJECTION=1`; release builds have no such code.
#[cfg(debug_assertions)]
fn fault_injection_enabled() -> bool {
    static ENABLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("RELAIS_FAULT_INJECTION").is_ok_and(|value| value == "1"))
}

/// Resolves when the watched counter changes; never without a watch.
async fn changed(receiver: &mut Option<tokio::sync::watch::Receiver<u64>>) -> Option<()> {
    match receiver {
        Some(receiver) => receiver.changed().await.ok(),
        None => std::future::pending().await,
    }
}
