// Whether the server has this tab's edits. The server never acknowledges an update; it only
// relays it. But it handles one connection's messages in order and answers a sync step 1 with a
// sync step 2: once the answer to a step 1 sent after an edit comes back, the server has applied
// the edit. This module sends such a "probe" after local edits (one at a time), and tells the
// document view whether local edits are still waiting for the server.
import * as decoding from 'lib0/decoding'
import * as encoding from 'lib0/encoding'
import * as syncProtocol from 'y-protocols/sync'
import type * as Y from 'yjs'
import type { WebsocketProvider } from 'y-websocket'

/** The y-websocket message type of sync messages. */
const MESSAGE_SYNC = 0
/** Probes are at most this often: each answer carries the document's whole delete set. */
const MIN_PROBE_INTERVAL_MS = 300

export class SyncTracker {
  /** Bumped by every local change (typing, or changes loaded from this browser's copy). */
  private editGeneration = 0
  /** The newest generation the server is known to have. */
  private confirmedGeneration = 0
  /** The generation each probe in flight on the current socket was sent for, oldest first. */
  private probes: number[] = []
  /** The sync step 2 answering the provider's own step 1, on each new socket, is not ours. */
  private skipNextStep2 = false
  private timer: ReturnType<typeof setTimeout> | null = null
  private lastProbeAt = 0
  private readonly onUpdate: (update: Uint8Array, origin: unknown) => void
  private readonly onStatus: ({ status }: { status: string }) => void
  private readonly onSync: () => void

  constructor(
    private readonly doc: Y.Doc,
    private readonly provider: WebsocketProvider,
    /** Runs whenever `pending` may have changed. */
    private readonly changed: () => void
  ) {
    // Changes from the server come with the provider as origin; everything else (the editor,
    // this browser's stored copy) may be unknown to the server.
    this.onUpdate = (_update, origin) => {
      if (origin === provider) return
      const wasPending = this.pending
      this.editGeneration++
      if (!wasPending) changed()
      this.schedule()
    }
    this.onStatus = ({ status }) => {
      if (status === 'connected') {
        this.probes = []
        this.skipNextStep2 = true
      }
    }
    this.onSync = () => this.schedule()
    doc.on('update', this.onUpdate)
    provider.on('status', this.onStatus)
    provider.on('sync', this.onSync)

    const handleSync = provider.messageHandlers[MESSAGE_SYNC]
    provider.messageHandlers[MESSAGE_SYNC] = (encoder, decoder, from, fromSocket, messageType) => {
      // Peek at the sync message's type without moving the provider's decoder.
      const type = decoding.peekVarUint(decoder)
      handleSync?.(encoder, decoder, from, fromSocket, messageType)
      // Other tabs of this browser talk through a broadcast channel (`fromSocket` false).
      if (fromSocket && type === syncProtocol.messageYjsSyncStep2) this.answered()
    }
  }

  /** Whether local changes may not have reached the server yet. */
  get pending(): boolean {
    return this.confirmedGeneration < this.editGeneration
  }

  private answered(): void {
    if (this.skipNextStep2) {
      this.skipNextStep2 = false
      return
    }
    const generation = this.probes.shift()
    if (generation === undefined) return
    const wasPending = this.pending
    this.confirmedGeneration = Math.max(this.confirmedGeneration, generation)
    if (wasPending && !this.pending) this.changed()
    this.schedule()
  }

  /** Sends a probe soon if changes wait and none is in flight. */
  private schedule(): void {
    if (this.timer !== null || !this.pending || this.probes.length > 0) return
    const wait = Math.max(0, this.lastProbeAt + MIN_PROBE_INTERVAL_MS - Date.now())
    this.timer = setTimeout(() => {
      this.timer = null
      this.probe()
    }, wait)
  }

  private probe(): void {
    const socket = this.provider.ws
    // Not connected: the provider's next connection syncs, and `sync` schedules a probe then.
    if (!this.pending || this.probes.length > 0 || !this.provider.synced || socket === null ||
      socket.readyState !== WebSocket.OPEN) return
    const encoder = encoding.createEncoder()
    encoding.writeVarUint(encoder, MESSAGE_SYNC)
    syncProtocol.writeSyncStep1(encoder, this.doc)
    this.probes.push(this.editGeneration)
    this.lastProbeAt = Date.now()
    socket.send(encoding.toUint8Array(encoder))
  }

  destroy(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.doc.off('update', this.onUpdate)
    this.provider.off('status', this.onStatus)
    this.provider.off('sync', this.onSync)
  }
}
