// The page's one connection to the chat (`/chat`, JSON frames, authenticated by the
// session cookie the browser sends with the handshake).
//
// It survives drops: it reconnects with a growing, jittered delay, subscribes again to
// every conversation with the last seq it delivered (the server sends everything after it,
// in order, so nothing is missed or shown twice), and only then sends again the messages
// still waiting for their `ack`, with the same client ids (the server keeps the first one).
import type { Author, ChatMessage } from './api'

export type ServerEvent =
  | { type: 'message' | 'message_edited' | 'mention', message: ChatMessage }
  | { type: 'subscribed', conversation_id: string, last_seq: number }
  | { type: 'unsubscribed', conversation_id: string, reason: string }
  | { type: 'ack', client_id: string, conversation_id: string, seq: number, id: string, duplicate: boolean }
  | { type: 'message_deleted', conversation_id: string, seq: number }
  | { type: 'reaction', conversation_id: string, seq: number, emoji: string, user_id: string, added: boolean }
  | { type: 'typing', conversation_id: string, user: Author }
  | { type: 'read', conversation_id: string, user_id: string, seq: number }
  | { type: 'presence', user: Author, status: string }
  | { type: 'error', code: string, message: string, client_id: string | null }

/** An `error` event, or a send the connection itself refused (`client_id` set then). */
export type ErrorEvent = Extract<ServerEvent, { type: 'error' }>

export type SocketState = 'connecting' | 'open' | 'offline' | 'ended'

/** What a conversation's view hears: its own events, and the refusals of its sends. */
export type ConversationListener = (event: ServerEvent) => void

interface Subscription {
  /** The last seq delivered to the listener: where to resume after a reconnect. */
  lastSeq: number
  /** Subscribed on the current connection (`subscribed` received). */
  live: boolean
  listener: ConversationListener
}

/** What a message may carry besides its text. */
export interface SendExtras {
  /** The message it answers (a thread). */
  replyToSeq?: number | null
  /** Ids of attachments uploaded beforehand. */
  attachments?: string[]
}

interface PendingSend {
  conversationId: string
  body: string
  extras: SendExtras
  /** The connection it was last sent on; resent on the next ones until acknowledged. */
  sentOn: number
}

const FIRST_RETRY_MS = 500
const MAX_RETRY_MS = 30_000
/** A connection that lasted this long was healthy: the next retry starts from the shortest delay. */
const HEALTHY_MS = 5_000
/** Close codes after which retrying cannot help (session ended, access refused). */
const isFinal = (code: number) => code >= 4400 && code < 4500
/** The server closes with 1009 a frame over its limit. */
const TOO_BIG = 1009

/** A random client id (`crypto.randomUUID` exists only in secure contexts). */
export function newClientId(): string {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID()
  const bytes = crypto.getRandomValues(new Uint8Array(16))
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

export class ChatSocket {
  private socket: WebSocket | null = null
  private generation = 0
  private attempts = 0
  private openedAt = 0
  private retryTimer: number | undefined
  private ended = false
  private readonly subscriptions = new Map<string, Subscription>()
  private readonly pending = new Map<string, PendingSend>()
  private readonly stateListeners = new Set<(state: SocketState) => void>()
  private readonly eventListeners = new Set<(event: ServerEvent) => void>()
  state: SocketState = 'offline'
  /** Runs once when the server says the session is over (4401). */
  onSessionEnded: () => void = () => {}

  constructor(private readonly url: string) {
    window.addEventListener('online', () => { if (this.state === 'offline') this.retryNow() })
  }

  /** Follows the connection's state; returns the way to stop. */
  onState(listener: (state: SocketState) => void): () => void {
    this.stateListeners.add(listener)
    return () => this.stateListeners.delete(listener)
  }

  /** Hears every event (mentions and presence included); returns the way to stop. */
  onEvent(listener: (event: ServerEvent) => void): () => void {
    this.eventListeners.add(listener)
    return () => this.eventListeners.delete(listener)
  }

  /**
   * Follows a conversation from `afterSeq` on (what the caller already has). One listener
   * per conversation; returns the way to stop.
   */
  subscribe(conversationId: string, afterSeq: number, listener: ConversationListener): () => void {
    // After a session ended, a new subscription comes with a new session.
    this.ended = false
    const subscription: Subscription = { lastSeq: afterSeq, live: false, listener }
    this.subscriptions.set(conversationId, subscription)
    if (this.isOpen()) {
      this.frame({ type: 'subscribe', conversation_id: conversationId, after_seq: afterSeq })
    } else {
      this.connect()
    }
    return () => {
      if (this.subscriptions.get(conversationId) !== subscription) return
      this.subscriptions.delete(conversationId)
      for (const [clientId, send] of this.pending) {
        if (send.conversationId === conversationId) this.pending.delete(clientId)
      }
      if (this.isOpen()) this.frame({ type: 'unsubscribe', conversation_id: conversationId })
    }
  }

  /**
   * Sends a message (now if the subscription is live, else once it is) and keeps it until
   * its `ack`. Give `clientId` to try again a refused one.
   */
  send(conversationId: string, body: string, extras: SendExtras = {}, clientId: string = newClientId()): string {
    const send: PendingSend = { conversationId, body, extras, sentOn: 0 }
    this.pending.set(clientId, send)
    if (this.subscriptions.get(conversationId)?.live === true) this.transmit(clientId, send)
    return clientId
  }

  /** Stops trying to send a message (the caller gave up on it). */
  forget(clientId: string): void {
    this.pending.delete(clientId)
  }

  /** Sends a frame if connected; says whether it went. */
  typing(conversationId: string): boolean {
    return this.live(conversationId) && this.frame({ type: 'typing', conversation_id: conversationId })
  }

  read(conversationId: string, seq: number): boolean {
    return this.live(conversationId) && this.frame({ type: 'read', conversation_id: conversationId, seq })
  }

  react(conversationId: string, seq: number, emoji: string, add: boolean): boolean {
    return this.live(conversationId) && this.frame({ type: 'react', conversation_id: conversationId, seq, emoji, add })
  }

  /** Replaces the text of one's own message; `message_edited` follows. */
  edit(conversationId: string, seq: number, body: string): boolean {
    return this.live(conversationId) && this.frame({ type: 'edit', conversation_id: conversationId, seq, body })
  }

  /** Deletes one's own message; `message_deleted` follows. */
  delete(conversationId: string, seq: number): boolean {
    return this.live(conversationId) && this.frame({ type: 'delete', conversation_id: conversationId, seq })
  }

  private live(conversationId: string): boolean {
    return this.isOpen() && this.subscriptions.get(conversationId)?.live === true
  }

  private isOpen(): boolean {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN
  }

  private frame(data: Record<string, unknown>): boolean {
    if (!this.isOpen() || this.socket === null) return false
    this.socket.send(JSON.stringify(data))
    return true
  }

  private transmit(clientId: string, send: PendingSend): void {
    const frame: Record<string, unknown> = { type: 'send', conversation_id: send.conversationId, client_id: clientId, body: send.body }
    if (send.extras.replyToSeq != null) frame['reply_to_seq'] = send.extras.replyToSeq
    if (send.extras.attachments !== undefined && send.extras.attachments.length > 0) frame['attachments'] = send.extras.attachments
    if (this.frame(frame)) {
      send.sentOn = this.generation
    }
  }

  private setState(state: SocketState): void {
    if (this.state === state) return
    this.state = state
    for (const listener of this.stateListeners) listener(state)
  }

  private connect(): void {
    if (this.ended || this.socket !== null) return
    window.clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    this.setState('connecting')
    const socket = new WebSocket(this.url)
    this.socket = socket
    socket.addEventListener('open', () => {
      this.generation += 1
      this.openedAt = Date.now()
      for (const [conversationId, subscription] of this.subscriptions) {
        subscription.live = false
        this.frame({ type: 'subscribe', conversation_id: conversationId, after_seq: subscription.lastSeq })
      }
      this.setState('open')
    })
    socket.addEventListener('message', (message) => {
      if (typeof message.data !== 'string') return
      let event: ServerEvent
      try {
        event = JSON.parse(message.data) as ServerEvent
      } catch {
        return
      }
      this.dispatch(event)
    })
    socket.addEventListener('close', (event) => this.closed(socket, event.code))
  }

  private closed(socket: WebSocket, code: number): void {
    if (this.socket !== socket) return
    this.socket = null
    for (const subscription of this.subscriptions.values()) subscription.live = false
    if (code === TOO_BIG) this.refuseLargestSent()
    if (isFinal(code)) {
      this.ended = true
      this.setState('ended')
      if (code === 4401) this.onSessionEnded()
      return
    }
    this.setState('offline')
    if (this.openedAt !== 0 && Date.now() - this.openedAt >= HEALTHY_MS) this.attempts = 0
    this.openedAt = 0
    if (this.subscriptions.size === 0) return
    const delay = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** this.attempts)
    this.attempts += 1
    // Jitter, so that a restarted server is not met by every client at the same instant.
    this.retryTimer = window.setTimeout(() => this.connect(), delay * (0.5 + Math.random() / 2))
  }

  private retryNow(): void {
    this.attempts = 0
    this.connect()
  }

  // A frame over the server's limit closes the connection instead of being refused: sending
  // it again would do the same forever, so the largest message sent on it is given up.
  private refuseLargestSent(): void {
    let largest: [string, PendingSend] | null = null
    for (const entry of this.pending) {
      if (entry[1].sentOn === this.generation && (largest === null || entry[1].body.length > largest[1].body.length)) largest = entry
    }
    if (largest === null) return
    const [clientId, send] = largest
    this.pending.delete(clientId)
    this.subscriptions.get(send.conversationId)?.listener(
      { type: 'error', code: 'too_large', message: 'message too large', client_id: clientId })
  }

  private dispatch(event: ServerEvent): void {
    for (const listener of this.eventListeners) listener(event)
    switch (event.type) {
      case 'message': {
        const subscription = this.subscriptions.get(event.message.conversation_id)
        if (subscription === undefined) return
        // Delivered in order without gaps; anything older is already shown.
        if (event.message.seq <= subscription.lastSeq) return
        subscription.lastSeq = event.message.seq
        subscription.listener(event)
        return
      }
      case 'subscribed': {
        const subscription = this.subscriptions.get(event.conversation_id)
        if (subscription === undefined) return
        subscription.live = true
        subscription.listener(event)
        for (const [clientId, send] of this.pending) {
          if (send.conversationId === event.conversation_id && send.sentOn !== this.generation) this.transmit(clientId, send)
        }
        return
      }
      case 'ack':
        this.pending.delete(event.client_id)
        this.subscriptions.get(event.conversation_id)?.listener(event)
        return
      case 'error': {
        const send = event.client_id === null ? undefined : this.pending.get(event.client_id)
        if (send !== undefined && event.client_id !== null) {
          this.pending.delete(event.client_id)
          this.subscriptions.get(send.conversationId)?.listener(event)
          return
        }
        // Other refusals do not say which request they answer: every open view hears them.
        for (const subscription of this.subscriptions.values()) subscription.listener(event)
        return
      }
      case 'unsubscribed': {
        const subscription = this.subscriptions.get(event.conversation_id)
        if (subscription === undefined) return
        this.subscriptions.delete(event.conversation_id)
        for (const [clientId, send] of this.pending) {
          if (send.conversationId === event.conversation_id) this.pending.delete(clientId)
        }
        subscription.listener(event)
        return
      }
      case 'message_edited':
        this.subscriptions.get(event.message.conversation_id)?.listener(event)
        return
      case 'message_deleted':
      case 'reaction':
      case 'typing':
      case 'read':
        this.subscriptions.get(event.conversation_id)?.listener(event)
        return
      case 'mention':
      case 'presence':
        return
    }
  }
}

let shared: ChatSocket | null = null

/** The page's chat connection, opened on the first subscription. */
export function chatSocket(): ChatSocket {
  shared ??= new ChatSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/chat`)
  return shared
}
