// One conversation on screen: its messages (a live log, older ones loaded when scrolled to
// the top), who is typing, reactions, and the composer. The document's side panel and the
// "Messages" view both use it.
//
// Only the server's `html` rendering of a message is ever inserted as HTML; everything else
// (names, a message still being sent) goes through `textContent`.
import { api, type ChatMessage, type Conversation, type User } from './api'
import type { ChatSocket, ServerEvent, SocketState } from './chat-socket'
import { describe, el, personName } from './ui'

/** Messages per history page. */
const PAGE = 50
/** Typing indicators are sent at most this often (the server relays no more anyway). */
const TYPING_EVERY_MS = 3_000
/** Someone stops being shown as typing after this long without news. */
const TYPING_SHOWN_MS = 6_000
const THUMBS_UP = '👍'

const TIME = new Intl.DateTimeFormat('fr-FR', { hour: '2-digit', minute: '2-digit' })
const DAY_AND_TIME = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'medium', timeStyle: 'short' })
const FULL = new Intl.DateTimeFormat('fr-FR', { dateStyle: 'full', timeStyle: 'medium' })

function shortTime(ms: number): string {
  const date = new Date(ms)
  return date.toDateString() === new Date().toDateString() ? TIME.format(date) : DAY_AND_TIME.format(date)
}

/** A French sentence for a refusal on the chat connection. */
export function chatError(code: string): string {
  switch (code) {
    case 'rate_limited': return 'Trop de messages à la suite : attendez un peu avant d’envoyer le suivant.'
    case 'too_large': return 'Message trop long : raccourcissez-le ou envoyez-le en plusieurs fois.'
    case 'forbidden': return 'Vous pouvez lire cette discussion mais pas y écrire.'
    case 'not_found': return 'Discussion ou message introuvable, ou vous n’y avez plus accès.'
    case 'bad_request': return 'Message refusé par le serveur (vide ou caractères non permis).'
    case 'unavailable': return 'Discussion momentanément indisponible : réessayez plus tard.'
    case 'unauthenticated': return 'Votre session a expiré : reconnectez-vous.'
    default: return 'Erreur du serveur : réessayez plus tard.'
  }
}

const CONNECTION_LABELS: Record<SocketState, string> = {
  connecting: 'Connexion à la discussion…',
  open: '',
  offline: 'Discussion hors ligne : nouvelle tentative bientôt. Vos messages partiront à la reconnexion.',
  ended: 'Discussion déconnectée.'
}

export interface ChatViewOptions {
  conversation: Conversation
  me: User
  socket: ChatSocket
  /** The heading's text, and its level where the view sits. */
  title: string
  headingLevel: 'h2' | 'h3'
  /** Unique among the page's ids. */
  idPrefix: string
  /** Whether the view is on screen now: only then are messages marked read. */
  isVisible: () => boolean
  /** Unread messages and mentions of the user, each time they change. */
  onUnread?: (unread: number, mentions: number) => void
}

export class ChatView {
  readonly element: HTMLElement
  readonly heading: HTMLElement
  private readonly conversation: Conversation
  private readonly me: User
  private readonly socket: ChatSocket
  private readonly options: ChatViewOptions
  private readonly messages = new Map<number, ChatMessage>()
  private readonly items = new Map<number, HTMLLIElement>()
  /** Messages sent and not yet shown as committed, by client id. */
  private readonly pendingItems = new Map<string, HTMLLIElement>()
  /** Acknowledged sends whose message has not arrived yet: seq → client id. */
  private readonly acked = new Map<number, string>()
  private readonly typists = new Map<string, { name: string, timer: number }>()
  private readonly log: HTMLDivElement
  private readonly list: HTMLOListElement
  private readonly empty: HTMLParagraphElement
  private readonly olderButton: HTMLButtonElement
  private readonly connectionLine: HTMLParagraphElement
  private readonly typingLine: HTMLParagraphElement
  private readonly errorLine: HTMLParagraphElement
  private readonly readOnlyNote: HTMLParagraphElement
  private readonly textarea: HTMLTextAreaElement
  private readonly sendButton: HTMLButtonElement
  private canWrite: boolean
  private lastReadSeq: number
  /** Unread messages and mentions older than those loaded (counted by the server). */
  private olderUnread = 0
  private olderMentions = 0
  private hasOlder = false
  private loadingOlder = false
  private stickToBottom = true
  private lastTypingSentAt = 0
  private readTimer: number | undefined
  private readonly stops: (() => void)[] = []

  constructor(options: ChatViewOptions) {
    this.options = options
    this.conversation = options.conversation
    this.me = options.me
    this.socket = options.socket
    this.canWrite = options.conversation.can_write
    this.lastReadSeq = options.conversation.last_read_seq
    const prefix = options.idPrefix

    this.heading = el(options.headingLevel, { id: `${prefix}-title`, class: 'chat-title', tabindex: '-1' }, options.title)
    this.connectionLine = el('p', { class: 'chat-connection', role: 'status' })
    this.olderButton = el('button', { type: 'button', class: 'chat-older' }, 'Afficher les messages précédents')
    this.olderButton.hidden = true
    this.olderButton.addEventListener('click', () => void this.loadOlder(true))
    this.empty = el('p', { class: 'hint chat-empty' }, 'Aucun message pour l’instant.')
    this.list = el('ol', { class: 'chat-messages' })
    this.log = el('div', {
      class: 'chat-log',
      role: 'log',
      'aria-live': 'polite',
      'aria-labelledby': this.heading.id,
      // Focusable, so that the keyboard can scroll it.
      tabindex: '0'
    }, this.olderButton, this.empty, this.list)
    this.log.addEventListener('scroll', () => {
      this.stickToBottom = this.isNearBottom()
      if (this.log.scrollTop < 40) void this.loadOlder(false)
    })
    this.typingLine = el('p', { class: 'chat-typing', 'aria-live': 'polite' })
    this.errorLine = el('p', { class: 'chat-error', role: 'alert' })

    const inputId = `${prefix}-input`
    this.textarea = el('textarea', { id: inputId, class: 'chat-input', rows: '2', 'aria-describedby': `${prefix}-hint` })
    this.sendButton = el('button', { type: 'submit' }, 'Envoyer')
    this.readOnlyNote = el('p', { id: `${prefix}-read-only`, class: 'chat-read-only' },
      'Vous pouvez lire cette discussion mais pas y écrire.')
    const composer = el('form', { class: 'chat-composer', 'aria-label': 'Écrire un message' },
      el('label', { for: inputId }, 'Votre message'),
      this.textarea,
      el('p', { id: `${prefix}-hint`, class: 'hint' },
        'Entrée pour envoyer, Maj+Entrée pour aller à la ligne. Mise en forme : **gras**, *italique*, listes.'),
      this.sendButton)
    composer.addEventListener('submit', (event) => {
      event.preventDefault()
      this.sendComposed()
    })
    this.textarea.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        this.sendComposed()
      }
    })
    this.textarea.addEventListener('input', () => this.typed())

    this.element = el('div', { class: 'chat' },
      this.heading, this.connectionLine, this.log, this.typingLine, this.errorLine, this.readOnlyNote, composer)
    this.applyWriteAccess()

    const onVisibility = () => this.scheduleRead()
    document.addEventListener('visibilitychange', onVisibility)
    this.stops.push(() => document.removeEventListener('visibilitychange', onVisibility))
  }

  /** Loads the latest messages, then follows the conversation live. */
  async start(): Promise<void> {
    const page = await api.messagesBefore(this.conversation.id, null, PAGE)
    for (const message of page) this.addMessage(message)
    this.hasOlder = (page[0]?.seq ?? 1) > 1
    this.olderButton.hidden = !this.hasOlder
    const [unread, mentions] = this.loadedUnread()
    this.olderUnread = Math.max(0, this.conversation.unread - unread)
    this.olderMentions = Math.max(0, this.conversation.mentions - mentions)
    this.stops.push(this.socket.onState((state) => this.showConnection(state)))
    this.stops.push(this.socket.subscribe(this.conversation.id, page.at(-1)?.seq ?? 0, (event) => this.onEvent(event)))
    this.showConnection(this.socket.state)
    this.reportUnread()
    this.shown()
  }

  /** Call when the view comes on screen: shows the latest messages and marks them read. */
  shown(): void {
    if (!this.options.isVisible()) return
    if (this.stickToBottom) this.scrollToBottom()
    this.scheduleRead()
  }

  /** Moves focus into the view: the composer if one may write, else the messages. */
  focus(): void {
    if (this.canWrite) this.textarea.focus()
    else this.log.focus()
  }

  destroy(): void {
    for (const stop of this.stops.splice(0)) stop()
    window.clearTimeout(this.readTimer)
    for (const typist of this.typists.values()) window.clearTimeout(typist.timer)
    this.typists.clear()
  }

  // ---- events -------------------------------------------------------------------------

  private onEvent(event: ServerEvent): void {
    switch (event.type) {
      case 'message': {
        const mine = event.message.author.id === this.me.id
        this.stopTyping(event.message.author.id)
        const stick = this.isNearBottom() || mine
        this.addMessage(event.message)
        if (stick) this.scrollToBottom()
        this.reportUnread()
        this.scheduleRead()
        break
      }
      case 'message_edited':
        if (this.messages.has(event.message.seq)) this.addMessage(event.message)
        break
      case 'message_deleted': {
        const message = this.messages.get(event.seq)
        if (message !== undefined) {
          this.addMessage({ ...message, deleted: true, html: '', body: '', reactions: [], attachments: [] })
          this.reportUnread()
        }
        break
      }
      case 'reaction':
        this.reacted(event.seq, event.emoji, event.user_id, event.added)
        break
      case 'typing':
        if (event.user.id !== this.me.id) this.startTyping(event.user.id, personName(event.user.display_name, event.user.external))
        break
      case 'read':
        if (event.user_id === this.me.id && event.seq > this.lastReadSeq) {
          this.lastReadSeq = event.seq
          this.reportUnread()
        }
        break
      case 'subscribed':
        this.element.dataset['live'] = 'true'
        this.scheduleRead()
        break
      case 'unsubscribed':
        this.element.dataset['live'] = 'false'
        this.canWrite = false
        this.applyWriteAccess()
        this.errorLine.textContent = 'Vous n’avez plus accès à cette discussion.'
        break
      case 'ack': {
        const item = this.pendingItems.get(event.client_id)
        if (item === undefined) break
        if (this.messages.has(event.seq)) {
          this.removePending(event.client_id)
        } else {
          // The message itself follows (the subscription delivers every seq in order).
          this.acked.set(event.seq, event.client_id)
          item.querySelector('.chat-state')?.replaceChildren('envoyé')
        }
        break
      }
      case 'error':
        this.refused(event.code, event.client_id)
        break
      default:
        break
    }
  }

  private refused(code: string, clientId: string | null): void {
    this.errorLine.textContent = chatError(code)
    if (code === 'forbidden') {
      this.canWrite = false
      this.applyWriteAccess()
    }
    const item = clientId === null ? undefined : this.pendingItems.get(clientId)
    if (item === undefined || clientId === null) return
    item.classList.add('chat-failed')
    const body = item.dataset['body'] ?? ''
    const actions = el('p', { class: 'chat-actions row' })
    if (code === 'too_large') {
      // Sending it again cannot work: the text goes back to the composer to be shortened.
      const edit = el('button', { type: 'button' }, 'Reprendre le texte')
      edit.addEventListener('click', () => {
        this.removePending(clientId)
        if (this.textarea.value.trim() === '') this.textarea.value = body
        this.textarea.focus()
      })
      actions.append(edit)
    } else if (code !== 'forbidden') {
      const retry = el('button', { type: 'button' }, 'Réessayer')
      retry.addEventListener('click', () => {
        item.classList.remove('chat-failed')
        item.querySelector('.chat-state')?.replaceChildren('envoi en cours…')
        actions.remove()
        this.errorLine.textContent = ''
        // The same client id: if the first attempt did go through, the server keeps that one.
        this.socket.send(this.conversation.id, body, clientId)
        this.textarea.focus()
      })
      actions.append(retry)
    }
    const drop = el('button', { type: 'button' }, 'Abandonner')
    drop.addEventListener('click', () => {
      this.socket.forget(clientId)
      this.removePending(clientId)
      this.textarea.focus()
    })
    actions.append(drop)
    item.querySelector('.chat-state')?.replaceChildren(`non envoyé : ${chatError(code)}`)
    item.querySelector('.chat-actions')?.remove()
    item.append(actions)
  }

  private showConnection(state: SocketState): void {
    const text = CONNECTION_LABELS[state]
    if (this.connectionLine.textContent !== text) this.connectionLine.textContent = text
    this.connectionLine.dataset['state'] = state
    // Following the conversation live: set at `subscribed`, cleared when the connection drops.
    if (state !== 'open') this.element.dataset['live'] = 'false'
  }

  // ---- messages -----------------------------------------------------------------------

  /** Shows a committed message, or shows it again after a change. */
  private addMessage(message: ChatMessage): void {
    this.messages.set(message.seq, message)
    const item = this.renderMessage(message)
    const previous = this.items.get(message.seq)
    this.items.set(message.seq, item)
    if (previous !== undefined) {
      previous.replaceWith(item)
    } else {
      // In seq order, before the messages still being sent.
      let before: Element | null = null
      for (let node = this.list.lastElementChild; node !== null; node = node.previousElementSibling) {
        const seq = Number((node as HTMLElement).dataset['seq'])
        if (!Number.isNaN(seq) && seq < message.seq) break
        before = node
      }
      this.list.insertBefore(item, before)
    }
    this.empty.hidden = true
    if (message.author.id === this.me.id) {
      const clientId = this.acked.get(message.seq) ?? (this.pendingItems.has(message.client_id) ? message.client_id : undefined)
      this.acked.delete(message.seq)
      if (clientId !== undefined) this.removePending(clientId)
    }
  }

  private renderMessage(message: ChatMessage): HTMLLIElement {
    const created = new Date(message.created_at_ms)
    const meta = el('p', { class: 'chat-meta' },
      el('span', { class: 'chat-author' }, personName(message.author.display_name, message.author.external)),
      ' ',
      el('time', { datetime: created.toISOString(), title: FULL.format(created) }, shortTime(message.created_at_ms)))
    if (message.edited_at_ms !== null && !message.deleted) meta.append(' ', el('span', { class: 'chat-edited' }, '(modifié)'))
    const item = el('li', { class: 'chat-message', 'data-seq': String(message.seq) }, meta)
    if (message.author.id === this.me.id) item.classList.add('chat-mine')
    if (message.deleted) {
      item.classList.add('chat-deleted')
      item.append(el('p', { class: 'chat-body' }, 'message supprimé'))
      return item
    }
    const body = el('div', { class: 'chat-body' })
    // The server's rendering, in which nothing can run: the one place HTML is inserted.
    body.innerHTML = message.html
    for (const link of body.querySelectorAll('a[href]')) {
      link.setAttribute('target', '_blank')
      link.setAttribute('rel', 'noopener noreferrer nofollow')
    }
    item.append(body)
    if (message.attachments.length > 0) {
      const files = el('ul', { class: 'chat-attachments', 'aria-label': 'Pièces jointes' })
      for (const attachment of message.attachments) {
        files.append(el('li', {}, el('a', { href: attachment.url, download: attachment.file_name }, attachment.file_name)))
      }
      item.append(files)
    }
    item.append(this.renderReactions(message))
    return item
  }

  private renderReactions(message: ChatMessage): HTMLElement {
    const bar = el('div', { class: 'chat-reactions' })
    let thumbsUpMine = false
    for (const reaction of message.reactions) {
      const count = reaction.user_ids.length
      if (count === 0) continue
      const mine = reaction.user_ids.includes(this.me.id)
      if (reaction.emoji === THUMBS_UP && mine) thumbsUpMine = true
      const people = `${count} ${count === 1 ? 'personne' : 'personnes'}${mine ? ', dont vous' : ''}`
      if (this.canWrite) {
        const button = el('button', {
          type: 'button',
          class: 'reaction',
          'aria-pressed': String(mine),
          'aria-label': `Réaction ${reaction.emoji} : ${people}. ${mine ? 'Retirer la vôtre' : 'Ajouter la vôtre'}`
        }, `${reaction.emoji} ${count}`)
        button.addEventListener('click', () => this.react(message.seq, reaction.emoji, !mine))
        bar.append(button)
      } else {
        bar.append(el('span', { class: 'reaction' },
          el('span', { 'aria-hidden': 'true' }, `${reaction.emoji} ${count}`),
          el('span', { class: 'visually-hidden' }, `Réaction ${reaction.emoji} : ${people}`)))
      }
    }
    if (this.canWrite && !thumbsUpMine) {
      const add = el('button', { type: 'button', class: 'reaction-add', 'aria-label': `Réagir avec ${THUMBS_UP}` }, `+${THUMBS_UP}`)
      add.addEventListener('click', () => this.react(message.seq, THUMBS_UP, true))
      bar.append(add)
    }
    return bar
  }

  private react(seq: number, emoji: string, add: boolean): void {
    if (!this.socket.react(this.conversation.id, seq, emoji, add)) {
      this.errorLine.textContent = 'Discussion hors ligne : réessayez dans un instant.'
    }
  }

  private reacted(seq: number, emoji: string, userId: string, added: boolean): void {
    const message = this.messages.get(seq)
    if (message === undefined) return
    const reactions = message.reactions.map((r) => ({ emoji: r.emoji, user_ids: r.user_ids.filter((id) => id !== userId || r.emoji !== emoji) }))
    if (added) {
      const existing = reactions.find((r) => r.emoji === emoji)
      if (existing !== undefined) existing.user_ids.push(userId)
      else reactions.push({ emoji, user_ids: [userId] })
    }
    const item = this.items.get(seq)
    const hadFocus = item?.querySelector('.chat-reactions')?.contains(document.activeElement) === true
    this.addMessage({ ...message, reactions: reactions.filter((r) => r.user_ids.length > 0) })
    // Keep the keyboard where it was: on the reactions of this message.
    if (hadFocus) this.items.get(seq)?.querySelector<HTMLButtonElement>('.chat-reactions button')?.focus()
  }

  private async loadOlder(fromButton: boolean): Promise<void> {
    if (this.loadingOlder || !this.hasOlder) return
    const first = Math.min(...this.messages.keys())
    if (!Number.isFinite(first)) return
    this.loadingOlder = true
    this.log.setAttribute('aria-busy', 'true')
    try {
      const page = await api.messagesBefore(this.conversation.id, first, PAGE)
      const fromBottom = this.log.scrollHeight - this.log.scrollTop
      const [unreadBefore, mentionsBefore] = this.loadedUnread()
      for (const message of page) {
        if (!this.messages.has(message.seq)) this.addMessage(message)
      }
      const [unreadAfter, mentionsAfter] = this.loadedUnread()
      this.olderUnread = Math.max(0, this.olderUnread - (unreadAfter - unreadBefore))
      this.olderMentions = Math.max(0, this.olderMentions - (mentionsAfter - mentionsBefore))
      this.hasOlder = (page[0]?.seq ?? 1) > 1
      this.olderButton.hidden = !this.hasOlder
      // Keep the messages that were on screen where they were.
      this.log.scrollTop = this.log.scrollHeight - fromBottom
      if (fromButton) {
        // The button may be gone: the keyboard goes to the oldest message shown.
        const oldest = this.list.firstElementChild as HTMLElement | null
        if (this.hasOlder) this.olderButton.focus()
        else if (oldest !== null) { oldest.tabIndex = -1; oldest.focus() }
      }
    } catch (error) {
      this.errorLine.textContent = `Impossible de charger les messages précédents. ${describe(error)}`
    } finally {
      this.loadingOlder = false
      this.log.removeAttribute('aria-busy')
    }
  }

  private isNearBottom(): boolean {
    return this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 80
  }

  private scrollToBottom(): void {
    this.log.scrollTop = this.log.scrollHeight
    this.stickToBottom = true
  }

  // ---- unread and read markers ----------------------------------------------------------

  /** Unread messages and mentions among those loaded. */
  private loadedUnread(): [number, number] {
    let unread = 0
    let mentions = 0
    for (const message of this.messages.values()) {
      if (message.seq <= this.lastReadSeq || message.author.id === this.me.id || message.deleted) continue
      unread += 1
      if (message.mentions_all || message.mentions.includes(this.me.id)) mentions += 1
    }
    return [unread, mentions]
  }

  private reportUnread(): void {
    const [unread, mentions] = this.loadedUnread()
    this.options.onUnread?.(this.olderUnread + unread, this.olderMentions + mentions)
  }

  /** Marks everything shown as read, soon, if the view is on screen. */
  private scheduleRead(): void {
    window.clearTimeout(this.readTimer)
    this.readTimer = window.setTimeout(() => {
      if (!this.options.isVisible() || document.visibilityState !== 'visible') return
      const last = Math.max(0, ...this.messages.keys())
      if (last <= this.lastReadSeq && this.olderUnread === 0) return
      if (!this.socket.read(this.conversation.id, last)) return
      this.lastReadSeq = Math.max(this.lastReadSeq, last)
      this.olderUnread = 0
      this.olderMentions = 0
      this.reportUnread()
    }, 250)
  }

  // ---- typing -------------------------------------------------------------------------

  private typed(): void {
    if (!this.canWrite || this.textarea.value.trim() === '') return
    const now = Date.now()
    if (now - this.lastTypingSentAt < TYPING_EVERY_MS) return
    if (this.socket.typing(this.conversation.id)) this.lastTypingSentAt = now
  }

  private startTyping(userId: string, name: string): void {
    const previous = this.typists.get(userId)
    if (previous !== undefined) window.clearTimeout(previous.timer)
    this.typists.set(userId, { name, timer: window.setTimeout(() => this.stopTyping(userId), TYPING_SHOWN_MS) })
    this.showTyping()
  }

  private stopTyping(userId: string): void {
    const typist = this.typists.get(userId)
    if (typist === undefined) return
    window.clearTimeout(typist.timer)
    this.typists.delete(userId)
    this.showTyping()
  }

  private showTyping(): void {
    const names = [...this.typists.values()].map((typist) => typist.name)
    const text = names.length === 0
      ? ''
      : names.length === 1
        ? `${names[0]} écrit…`
        : names.length === 2
          ? `${names[0]} et ${names[1]} écrivent…`
          : 'Plusieurs personnes écrivent…'
    // Only on change, so that screen readers announce it once.
    if (this.typingLine.textContent !== text) this.typingLine.textContent = text
  }

  // ---- sending ------------------------------------------------------------------------

  private applyWriteAccess(): void {
    this.textarea.disabled = !this.canWrite
    this.sendButton.disabled = !this.canWrite
    this.readOnlyNote.hidden = this.canWrite
    this.textarea.setAttribute('aria-describedby',
      this.canWrite ? `${this.options.idPrefix}-hint` : `${this.readOnlyNote.id} ${this.options.idPrefix}-hint`)
    // Reactions become buttons or plain text.
    for (const message of this.messages.values()) this.addMessage(message)
  }

  private sendComposed(): void {
    if (!this.canWrite) return
    const body = this.textarea.value
    if (body.trim() === '') return
    this.errorLine.textContent = ''
    const clientId = this.socket.send(this.conversation.id, body)
    const item = el('li', { class: 'chat-message chat-mine chat-pending', 'data-client-id': clientId },
      el('p', { class: 'chat-meta' },
        el('span', { class: 'chat-author' }, personName(this.me.display_name, this.me.external)),
        ' ',
        el('span', { class: 'chat-state' }, 'envoi en cours…')),
      // Not yet rendered by the server: shown as plain text.
      el('p', { class: 'chat-body chat-plain' }, body))
    item.dataset['body'] = body
    this.pendingItems.set(clientId, item)
    this.list.append(item)
    this.empty.hidden = true
    this.textarea.value = ''
    this.lastTypingSentAt = 0
    this.scrollToBottom()
  }

  private removePending(clientId: string): void {
    this.pendingItems.get(clientId)?.remove()
    this.pendingItems.delete(clientId)
  }
}
