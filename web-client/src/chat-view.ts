// One conversation on screen: its messages (a live log, older ones loaded when scrolled to
// the top), threads (a reply quotes its parent and links to it; the parent counts its replies),
// attachments, who is typing, reactions, editing and deleting one's own messages, and the
// composer. The document's side panel and the "Messages" view both use it.
//
// Only the server's `html` rendering of a message is ever inserted as HTML; everything else
// (names, a message still being sent, excerpts) goes through `textContent`. Attachments are
// only ever download links: their content is never shown in the page.
import { api, ApiError, type Attachment, type ChatMessage, type Conversation, type User } from './api'
import type { ChatSocket, SendExtras, ServerEvent, SocketState } from './chat-socket'
import { ask } from './dialog'
import { locale, t } from './i18n'
import { describe, el, formatBytes, personName } from './ui'

/** Messages per history page. */
const PAGE = 50
/** Typing indicators are sent at most this often (the server relays no more anyway). */
const TYPING_EVERY_MS = 3_000
/** Someone stops being shown as typing after this long without news. */
const TYPING_SHOWN_MS = 6_000
const THUMBS_UP = '👍'
/** The server's limit of attachments per message. */
const MAX_ATTACHMENTS = 10
/** Characters of a parent message quoted above its replies. */
const EXCERPT_CHARS = 90

const TIME = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' })
const DAY_AND_TIME = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' })
const FULL = new Intl.DateTimeFormat(locale, { dateStyle: 'full', timeStyle: 'medium' })

function shortTime(ms: number): string {
  const date = new Date(ms)
  return date.toDateString() === new Date().toDateString() ? TIME.format(date) : DAY_AND_TIME.format(date)
}

/** A sentence for a refusal on the chat connection. */
export const chatError = (code: string): string => t.chat.error(code)

/** A message as one line of plain text, shortened: what its replies quote. */
function excerpt(message: ChatMessage): string {
  // An inert document: nothing in it loads or runs, only its text is read.
  const parsed = new DOMParser().parseFromString(message.html, 'text/html')
  let text = (parsed.body.textContent ?? '').replace(/\s+/g, ' ').trim()
  if (text === '') text = message.attachments.map((a) => a.file_name).join(', ') || t.chat.noExcerpt
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS - 1).trimEnd()}…` : text
}

/** Why an upload was refused, for people. */
function uploadError(error: unknown, file: File): string {
  if (error instanceof ApiError && error.status === 413) {
    const limit = /(\d+) bytes/.exec(error.message)?.[1]
    return t.chat.fileTooLarge(limit === undefined ? null : formatBytes(Number(limit)))
  }
  if (error instanceof ApiError && error.status === 415) return t.chat.fileTypeRefused(file.type || 'application/octet-stream')
  return describe(error)
}

/** What a message being sent carries, to send it again the same way. */
interface Outgoing {
  body: string
  replyToSeq: number | null
  attachments: Attachment[]
}

/** The inline editor of one of one's own messages. */
interface Editing {
  seq: number
  form: HTMLFormElement
  textarea: HTMLTextAreaElement
  saving: boolean
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
  private readonly prefix: string
  private readonly messages = new Map<number, ChatMessage>()
  private readonly items = new Map<number, HTMLLIElement>()
  /** Replies by the seq of the message they answer. */
  private readonly replies = new Map<number, Set<number>>()
  /** Messages sent and not yet shown as committed, by client id. */
  private readonly pendingItems = new Map<string, HTMLLIElement>()
  private readonly outgoing = new Map<string, Outgoing>()
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
  private readonly replyBox: HTMLDivElement
  private readonly replyText: HTMLParagraphElement
  private readonly attachButton: HTMLButtonElement
  private readonly fileInput: HTMLInputElement
  private readonly fileList: HTMLUListElement
  private readonly fileStatus: HTMLParagraphElement
  private canWrite: boolean
  private lastReadSeq: number
  /** The message the composer answers, if any. */
  private replyTo: number | null = null
  /** Uploaded files for the next message. */
  private files: Attachment[] = []
  private uploading = 0
  private editing: Editing | null = null
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
    this.prefix = prefix

    this.heading = el(options.headingLevel, { id: `${prefix}-title`, class: 'chat-title', tabindex: '-1' }, options.title)
    this.connectionLine = el('p', { class: 'chat-connection', role: 'status' })
    this.olderButton = el('button', { type: 'button', class: 'chat-older' }, t.chat.older)
    this.olderButton.hidden = true
    this.olderButton.addEventListener('click', () => void this.loadOlder(true))
    this.empty = el('p', { class: 'hint chat-empty' }, t.chat.empty)
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
    this.sendButton = el('button', { type: 'submit', class: 'primary' }, t.chat.send)
    this.readOnlyNote = el('p', { id: `${prefix}-read-only`, class: 'chat-read-only' }, t.chat.readOnly)

    // The message being answered, above the text.
    this.replyText = el('p', { id: `${prefix}-reply`, class: 'chat-reply-text' })
    const cancelReply = el('button', { type: 'button' }, t.chat.cancelReply)
    cancelReply.addEventListener('click', () => this.cancelReply(true))
    this.replyBox = el('div', { class: 'chat-reply-box row' }, this.replyText, cancelReply)
    this.replyBox.hidden = true

    // Files: uploaded as soon as chosen, sent with the next message.
    this.fileInput = el('input', { type: 'file', multiple: '', tabindex: '-1', 'aria-hidden': 'true' })
    this.fileInput.hidden = true
    this.fileInput.addEventListener('change', () => {
      const chosen = [...(this.fileInput.files ?? [])]
      this.fileInput.value = ''
      for (const file of chosen) void this.upload(file)
    })
    this.attachButton = el('button', { type: 'button', class: 'chat-attach' }, t.chat.attach)
    this.attachButton.addEventListener('click', () => this.fileInput.click())
    this.fileList = el('ul', { class: 'chat-pending-files', 'aria-label': t.chat.pendingFiles })
    this.fileList.hidden = true
    this.fileStatus = el('p', { class: 'chat-file-status', role: 'status' })

    const composer = el('form', { class: 'chat-composer', 'aria-label': t.chat.composer },
      this.replyBox,
      el('label', { for: inputId }, t.chat.inputLabel),
      this.textarea,
      el('p', { id: `${prefix}-hint`, class: 'hint' }, t.chat.hint),
      this.fileList,
      this.fileStatus,
      el('div', { class: 'row spread chat-composer-buttons' }, this.attachButton, this.fileInput, this.sendButton))
    composer.addEventListener('submit', (event) => {
      event.preventDefault()
      this.sendComposed()
    })
    this.textarea.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        this.sendComposed()
      } else if (event.key === 'Escape' && this.replyTo !== null) {
        event.preventDefault()
        this.cancelReply(false)
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
        if (!this.messages.has(event.message.seq)) break
        // Our own edit is saved: the editor closes.
        if (this.editing?.seq === event.message.seq && this.editing.saving) this.editing = null
        this.addMessage(event.message)
        break
      case 'message_deleted': {
        const message = this.messages.get(event.seq)
        if (message !== undefined) {
          if (this.editing?.seq === event.seq) this.editing = null
          if (this.replyTo === event.seq) this.cancelReply(false)
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
        this.editing = null
        this.applyWriteAccess()
        this.errorLine.textContent = t.chat.lostAccess
        break
      case 'ack': {
        const item = this.pendingItems.get(event.client_id)
        if (item === undefined) break
        if (this.messages.has(event.seq)) {
          this.removePending(event.client_id)
        } else {
          // The message itself follows (the subscription delivers every seq in order).
          this.acked.set(event.seq, event.client_id)
          item.querySelector('.chat-state')?.replaceChildren(t.chat.sent)
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
    if (code === 'forbidden' && clientId !== null) {
      this.canWrite = false
      this.applyWriteAccess()
    }
    // A refused edit: the editor stays open, to try again or cancel.
    if (clientId === null && this.editing?.saving === true) {
      this.editing.saving = false
      this.editing.form.removeAttribute('aria-busy')
    }
    const item = clientId === null ? undefined : this.pendingItems.get(clientId)
    const outgoing = clientId === null ? undefined : this.outgoing.get(clientId)
    if (item === undefined || clientId === null || outgoing === undefined) return
    item.classList.add('chat-failed')
    const actions = el('p', { class: 'chat-actions row' })
    if (code === 'too_large') {
      // Sending it again cannot work: the text goes back to the composer to be shortened.
      const edit = el('button', { type: 'button' }, t.chat.takeBack)
      edit.addEventListener('click', () => {
        this.removePending(clientId)
        if (this.textarea.value.trim() === '') this.textarea.value = outgoing.body
        if (this.files.length === 0) this.setFiles(outgoing.attachments)
        if (outgoing.replyToSeq !== null && this.replyTo === null) this.startReply(outgoing.replyToSeq)
        this.textarea.focus()
      })
      actions.append(edit)
    } else if (code !== 'forbidden') {
      const retry = el('button', { type: 'button' }, t.chat.retry)
      retry.addEventListener('click', () => {
        item.classList.remove('chat-failed')
        item.querySelector('.chat-state')?.replaceChildren(t.chat.sending)
        actions.remove()
        this.errorLine.textContent = ''
        // The same client id: if the first attempt did go through, the server keeps that one.
        this.socket.send(this.conversation.id, outgoing.body, this.extras(outgoing), clientId)
        this.textarea.focus()
      })
      actions.append(retry)
    }
    const drop = el('button', { type: 'button' }, t.chat.abandon)
    drop.addEventListener('click', () => {
      this.socket.forget(clientId)
      this.removePending(clientId)
      this.textarea.focus()
    })
    actions.append(drop)
    item.querySelector('.chat-state')?.replaceChildren(t.chat.notSent(chatError(code)))
    item.querySelector('.chat-actions')?.remove()
    item.append(actions)
  }

  private showConnection(state: SocketState): void {
    const text = t.chat.connection[state]
    if (this.connectionLine.textContent !== text) this.connectionLine.textContent = text
    this.connectionLine.dataset['state'] = state
    // Following the conversation live: set at `subscribed`, cleared when the connection drops.
    if (state !== 'open') this.element.dataset['live'] = 'false'
  }

  // ---- messages -----------------------------------------------------------------------

  private itemId(seq: number): string {
    return `${this.prefix}-m${seq}`
  }

  /** Shows a committed message, or shows it again after a change (focus stays where it was). */
  private addMessage(message: ChatMessage): void {
    const before = this.messages.get(message.seq)
    this.messages.set(message.seq, message)
    if (message.reply_to_seq !== null && before === undefined) {
      let set = this.replies.get(message.reply_to_seq)
      if (set === undefined) this.replies.set(message.reply_to_seq, set = new Set())
      set.add(message.seq)
    }
    const previous = this.items.get(message.seq)
    // Read before drawing: the open editor moves into the new drawing, which takes its focus.
    const focused = previous?.contains(document.activeElement) === true ? document.activeElement as HTMLElement : null
    const selection = focused instanceof HTMLTextAreaElement ? [focused.selectionStart, focused.selectionEnd] as const : null
    const item = this.renderMessage(message)
    this.items.set(message.seq, item)
    if (previous !== undefined) {
      previous.replaceWith(item)
      if (focused !== null) this.refocus(item, focused, selection)
    } else {
      // In seq order, before the messages still being sent.
      let next: Element | null = null
      for (let node = this.list.lastElementChild; node !== null; node = node.previousElementSibling) {
        const seq = Number((node as HTMLElement).dataset['seq'])
        if (!Number.isNaN(seq) && seq < message.seq) break
        next = node
      }
      this.list.insertBefore(item, next)
    }
    this.empty.hidden = true
    // Threads: the parent counts this reply; replies quote this message as it is now.
    if (message.reply_to_seq !== null) this.refreshThread(message.reply_to_seq)
    if (previous === undefined || before?.html !== message.html || before.deleted !== message.deleted) this.refreshQuotes(message.seq)
    if (message.author.id === this.me.id) {
      const clientId = this.acked.get(message.seq) ?? (this.pendingItems.has(message.client_id) ? message.client_id : undefined)
      this.acked.delete(message.seq)
      if (clientId !== undefined) this.removePending(clientId)
    }
  }

  /** After a message was drawn again: focus goes to the same control, or the closest one. */
  private refocus(item: HTMLElement, focused: HTMLElement, selection: readonly [number, number] | null): void {
    const action = focused.dataset['action'] ?? ''
    const target = (action === '' ? null : item.querySelector<HTMLElement>(`[data-action="${CSS.escape(action)}"]`)) ??
      (action.startsWith('react') ? item.querySelector<HTMLElement>('.chat-reactions button') : null) ??
      (action.startsWith('edit') ? item.querySelector<HTMLElement>('[data-action="edit"]') : null) ??
      item.querySelector<HTMLElement>('[data-action="reply"]')
    if (target !== null) {
      target.focus()
      if (target instanceof HTMLTextAreaElement && selection !== null) target.setSelectionRange(selection[0], selection[1])
    } else {
      item.tabIndex = -1
      item.focus()
    }
  }

  private renderMessage(message: ChatMessage): HTMLLIElement {
    const created = new Date(message.created_at_ms)
    const author = personName(message.author.display_name, message.author.external)
    const metaId = `${this.itemId(message.seq)}-meta`
    const meta = el('p', { class: 'chat-meta', id: metaId },
      el('span', { class: 'chat-author' }, author),
      ' ',
      el('time', { datetime: created.toISOString(), title: FULL.format(created) }, shortTime(message.created_at_ms)))
    if (message.edited_at_ms !== null && !message.deleted) meta.append(' ', el('span', { class: 'chat-edited' }, t.chat.edited))
    const item = el('li', { class: 'chat-message', id: this.itemId(message.seq), 'data-seq': String(message.seq) })
    if (message.author.id === this.me.id) item.classList.add('chat-mine')
    if (message.reply_to_seq !== null && !message.deleted) {
      item.classList.add('chat-reply')
      item.append(this.renderQuote(message.reply_to_seq))
    }
    item.append(meta)
    if (message.deleted) {
      item.classList.add('chat-deleted')
      item.append(el('p', { class: 'chat-body' }, t.chat.deleted))
      item.append(this.renderThread(message.seq))
      return item
    }
    if (this.editing?.seq === message.seq) {
      item.classList.add('chat-editing')
      item.append(this.editing.form)
    } else {
      const body = el('div', { class: 'chat-body' })
      // The server's rendering, in which nothing can run: the one place HTML is inserted.
      body.innerHTML = message.html
      for (const link of body.querySelectorAll('a[href]')) {
        link.setAttribute('target', '_blank')
        link.setAttribute('rel', 'noopener noreferrer nofollow')
      }
      item.append(body)
    }
    if (message.attachments.length > 0) item.append(this.renderAttachments(message.attachments))
    item.append(this.renderReactions(message), this.renderThread(message.seq))
    if (this.canWrite) item.append(this.renderTools(message, author, metaId))
    return item
  }

  /** Download links, never the content itself. */
  private renderAttachments(attachments: Attachment[]): HTMLUListElement {
    const files = el('ul', { class: 'chat-attachments', 'aria-label': t.chat.attachments })
    for (const attachment of attachments) {
      files.append(el('li', {},
        el('a', { href: `/api/attachments/${encodeURIComponent(attachment.id)}`, download: attachment.file_name, class: 'chat-file' },
          attachment.file_name),
        el('span', { class: 'chat-file-size' }, ` (${formatBytes(attachment.len)})`)))
    }
    return files
  }

  /** Above a reply: who and what it answers, with a link to it. */
  private renderQuote(parentSeq: number): HTMLElement {
    const parent = this.messages.get(parentSeq)
    const link = el('a', { href: `#${this.itemId(parentSeq)}`, class: 'chat-quote-link', 'data-action': 'quote' },
      parent === undefined
        ? t.chat.inReplyToOlder
        : parent.deleted ? t.chat.inReplyToDeleted : t.chat.inReplyTo(personName(parent.author.display_name, parent.author.external)))
    link.addEventListener('click', (event) => {
      event.preventDefault()
      void this.jumpTo(parentSeq)
    })
    const quote = el('blockquote', { class: 'chat-quote', 'data-parent': String(parentSeq) }, link)
    if (parent !== undefined && !parent.deleted) quote.append(el('span', { class: 'chat-quote-text' }, excerpt(parent)))
    return quote
  }

  /** Below a message with replies: how many, with a link to the latest. */
  private renderThread(seq: number): HTMLElement {
    const line = el('p', { class: 'chat-thread' })
    const replies = [...(this.replies.get(seq) ?? [])].filter((s) => this.messages.get(s)?.deleted !== true)
    if (replies.length === 0) {
      line.hidden = true
      return line
    }
    const last = Math.max(...replies)
    const link = el('a', { href: `#${this.itemId(last)}`, 'data-action': 'thread' },
      t.chat.replies(replies.length), el('span', { class: 'visually-hidden' }, t.chat.lastReply))
    link.addEventListener('click', (event) => {
      event.preventDefault()
      void this.jumpTo(last)
    })
    line.append(link)
    return line
  }

  /** The actions on a message: reply to it, and edit or delete it when it is one's own. */
  private renderTools(message: ChatMessage, author: string, metaId: string): HTMLElement {
    const tools = el('div', { class: 'chat-tools row', role: 'group', 'aria-label': t.chat.actions(author) })
    const button = (text: string, action: string, run: () => void) => {
      const b = el('button', { type: 'button', 'data-action': action, 'aria-describedby': metaId }, text)
      b.addEventListener('click', run)
      tools.append(b)
    }
    button(t.chat.reply, 'reply', () => this.startReply(message.seq))
    if (message.author.id === this.me.id && this.editing?.seq !== message.seq) {
      button(t.chat.edit, 'edit', () => this.startEdit(message.seq))
      button(t.chat.remove, 'delete', () => void this.confirmDelete(message.seq))
    }
    return tools
  }

  /** Draws again the reply count under a message. */
  private refreshThread(seq: number): void {
    this.items.get(seq)?.querySelector(':scope > .chat-thread')?.replaceWith(this.renderThread(seq))
  }

  /** Draws again the quotes of a message's replies (it arrived, changed or was deleted). */
  private refreshQuotes(seq: number): void {
    for (const reply of this.replies.get(seq) ?? []) {
      const quote = this.items.get(reply)?.querySelector(':scope > .chat-quote')
      if (quote === null || quote === undefined) continue
      const hadFocus = quote.contains(document.activeElement)
      const fresh = this.renderQuote(seq)
      quote.replaceWith(fresh)
      if (hadFocus) fresh.querySelector('a')?.focus()
    }
    if (this.replyTo === seq) this.showReply()
  }

  /** Scrolls to a message (loading older ones if needed) and moves focus to it. */
  private async jumpTo(seq: number): Promise<void> {
    while (!this.items.has(seq) && this.hasOlder && seq < Math.min(...this.messages.keys())) {
      const count = this.messages.size
      await this.loadOlder(false)
      if (this.messages.size === count) break
    }
    const item = this.items.get(seq)
    if (item === undefined) return
    item.tabIndex = -1
    item.scrollIntoView({ block: 'center' })
    item.focus({ preventScroll: true })
    item.classList.add('chat-highlight')
    window.setTimeout(() => item.classList.remove('chat-highlight'), 2_000)
  }

  private renderReactions(message: ChatMessage): HTMLElement {
    const bar = el('div', { class: 'chat-reactions' })
    let thumbsUpMine = false
    for (const reaction of message.reactions) {
      const count = reaction.user_ids.length
      if (count === 0) continue
      const mine = reaction.user_ids.includes(this.me.id)
      if (reaction.emoji === THUMBS_UP && mine) thumbsUpMine = true
      const people = t.chat.reactionPeople(count, mine)
      if (this.canWrite) {
        const button = el('button', {
          type: 'button',
          class: 'reaction',
          'data-action': `react-${reaction.emoji}`,
          'aria-pressed': String(mine),
          'aria-label': t.chat.reactionButton(reaction.emoji, people, mine)
        }, `${reaction.emoji} ${count}`)
        button.addEventListener('click', () => this.react(message.seq, reaction.emoji, !mine))
        bar.append(button)
      } else {
        bar.append(el('span', { class: 'reaction' },
          el('span', { 'aria-hidden': 'true' }, `${reaction.emoji} ${count}`),
          el('span', { class: 'visually-hidden' }, t.chat.reactionText(reaction.emoji, people))))
      }
    }
    if (this.canWrite && !thumbsUpMine) {
      const add = el('button', { type: 'button', class: 'reaction-add', 'data-action': 'react-add', 'aria-label': t.chat.reactWith(THUMBS_UP) }, `+${THUMBS_UP}`)
      add.addEventListener('click', () => this.react(message.seq, THUMBS_UP, true))
      bar.append(add)
    }
    return bar
  }

  private react(seq: number, emoji: string, add: boolean): void {
    if (!this.socket.react(this.conversation.id, seq, emoji, add)) {
      this.errorLine.textContent = t.chat.offlineRetry
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
    this.addMessage({ ...message, reactions: reactions.filter((r) => r.user_ids.length > 0) })
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
      this.errorLine.textContent = t.chat.olderFailed(describe(error))
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
    const [first = '', second = ''] = names
    const text = names.length === 0
      ? ''
      : names.length === 1 ? t.chat.typingOne(first) : names.length === 2 ? t.chat.typingTwo(first, second) : t.chat.typingMany
    // Only on change, so that screen readers announce it once.
    if (this.typingLine.textContent !== text) this.typingLine.textContent = text
  }

  // ---- replying -----------------------------------------------------------------------

  private startReply(seq: number): void {
    if (!this.canWrite || !this.messages.has(seq)) return
    this.replyTo = seq
    this.showReply()
    this.textarea.focus()
  }

  /** Says in the composer which message it answers. */
  private showReply(): void {
    const parent = this.replyTo === null ? undefined : this.messages.get(this.replyTo)
    this.replyBox.hidden = parent === undefined
    this.replyText.textContent = parent === undefined
      ? ''
      : t.chat.replyingTo(personName(parent.author.display_name, parent.author.external), excerpt(parent))
    this.describeInput()
  }

  private cancelReply(moveFocus: boolean): void {
    this.replyTo = null
    this.showReply()
    if (moveFocus) this.textarea.focus()
  }

  private describeInput(): void {
    const ids = [`${this.prefix}-hint`]
    if (!this.canWrite) ids.unshift(this.readOnlyNote.id)
    if (this.replyTo !== null) ids.unshift(this.replyText.id)
    this.textarea.setAttribute('aria-describedby', ids.join(' '))
  }

  // ---- attachments --------------------------------------------------------------------

  private async upload(file: File): Promise<void> {
    if (!this.canWrite) return
    if (this.files.length + this.uploading >= MAX_ATTACHMENTS) {
      this.errorLine.textContent = t.chat.tooManyFiles
      return
    }
    this.errorLine.textContent = ''
    this.uploading += 1
    this.fileStatus.textContent = t.chat.uploading(file.name)
    try {
      const attachment = await api.uploadAttachment(this.conversation.id, file)
      this.setFiles([...this.files, attachment])
      this.fileStatus.textContent = t.chat.uploaded(attachment.file_name)
    } catch (error) {
      this.fileStatus.textContent = ''
      this.errorLine.textContent = t.chat.uploadFailed(file.name, uploadError(error, file))
    } finally {
      this.uploading -= 1
    }
  }

  /** Shows the files waiting for the next message, each with a way to take it back. */
  private setFiles(files: Attachment[]): void {
    this.files = files
    this.fileList.replaceChildren(...files.map((file) => {
      const remove = el('button', { type: 'button', 'aria-label': t.chat.removeFileLabel(file.file_name) }, t.chat.removeFile)
      remove.addEventListener('click', () => {
        this.setFiles(this.files.filter((f) => f.id !== file.id))
        this.attachButton.focus()
      })
      return el('li', {}, `${file.file_name} (${formatBytes(file.len)}) `, remove)
    }))
    this.fileList.hidden = files.length === 0
  }

  // ---- editing and deleting -------------------------------------------------------------

  private startEdit(seq: number): void {
    const message = this.messages.get(seq)
    if (message === undefined || message.deleted || !this.canWrite) return
    if (this.editing !== null && this.editing.seq !== seq) this.stopEdit()
    const id = `${this.itemId(seq)}-edit`
    const textarea = el('textarea', { id, class: 'chat-input', rows: '3', 'data-action': 'edit-input', 'aria-describedby': `${id}-hint` })
    textarea.value = message.body
    const save = el('button', { type: 'submit', class: 'primary', 'data-action': 'edit-save' }, t.chat.save)
    const cancel = el('button', { type: 'button', 'data-action': 'edit-cancel' }, t.chat.cancel)
    const form = el('form', { class: 'chat-edit' },
      el('label', { for: id, class: 'visually-hidden' }, t.chat.editLabel),
      textarea,
      el('p', { id: `${id}-hint`, class: 'hint' }, t.chat.editHint),
      el('div', { class: 'row' }, save, cancel))
    const editing: Editing = { seq, form, textarea, saving: false }
    form.addEventListener('submit', (event) => {
      event.preventDefault()
      this.saveEdit(editing)
    })
    cancel.addEventListener('click', () => this.stopEdit())
    textarea.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault()
        this.saveEdit(editing)
      } else if (event.key === 'Escape') {
        event.preventDefault()
        event.stopPropagation()
        this.stopEdit()
      }
    })
    this.editing = editing
    this.addMessage(message)
    textarea.focus()
    textarea.setSelectionRange(textarea.value.length, textarea.value.length)
  }

  private saveEdit(editing: Editing): void {
    if (this.editing !== editing || editing.saving) return
    const message = this.messages.get(editing.seq)
    if (message === undefined) return
    const body = editing.textarea.value
    if (body.trim() === '') {
      this.errorLine.textContent = t.chat.emptyEdit
      return
    }
    if (body === message.body) {
      this.stopEdit()
      return
    }
    if (!this.socket.edit(this.conversation.id, editing.seq, body)) {
      this.errorLine.textContent = t.chat.offlineRetry
      return
    }
    this.errorLine.textContent = ''
    // Closed when `message_edited` comes back.
    editing.saving = true
    editing.form.setAttribute('aria-busy', 'true')
  }

  /** Closes the editor without saving; focus goes back to « Modifier ». */
  private stopEdit(): void {
    const editing = this.editing
    if (editing === null) return
    this.editing = null
    const message = this.messages.get(editing.seq)
    if (message !== undefined) this.addMessage(message)
  }

  private async confirmDelete(seq: number): Promise<void> {
    const answer = await ask({
      title: t.chat.removeTitle,
      text: t.chat.removeText,
      confirm: t.chat.removeConfirm,
      cancel: t.chat.cancel,
      danger: true
    })
    if (answer === null) return
    if (!this.socket.delete(this.conversation.id, seq)) this.errorLine.textContent = t.chat.offlineRetry
  }

  // ---- sending ------------------------------------------------------------------------

  private applyWriteAccess(): void {
    this.textarea.disabled = !this.canWrite
    this.sendButton.disabled = !this.canWrite
    this.attachButton.disabled = !this.canWrite
    this.readOnlyNote.hidden = this.canWrite
    if (!this.canWrite) {
      this.replyTo = null
      this.showReply()
      this.setFiles([])
    }
    this.describeInput()
    // Reactions become buttons or plain text; the actions on messages come or go.
    for (const message of this.messages.values()) this.addMessage(message)
  }

  private extras(outgoing: Outgoing): SendExtras {
    return { replyToSeq: outgoing.replyToSeq, attachments: outgoing.attachments.map((a) => a.id) }
  }

  private sendComposed(): void {
    if (!this.canWrite) return
    const body = this.textarea.value
    if (this.uploading > 0) {
      this.errorLine.textContent = t.chat.waitForUpload
      return
    }
    if (body.trim() === '' && this.files.length === 0) return
    this.errorLine.textContent = ''
    const outgoing: Outgoing = { body, replyToSeq: this.replyTo, attachments: this.files }
    const clientId = this.socket.send(this.conversation.id, body, this.extras(outgoing))
    this.outgoing.set(clientId, outgoing)
    const item = el('li', { class: 'chat-message chat-mine chat-pending', 'data-client-id': clientId })
    if (outgoing.replyToSeq !== null) item.append(this.renderQuote(outgoing.replyToSeq))
    item.append(
      el('p', { class: 'chat-meta' },
        el('span', { class: 'chat-author' }, personName(this.me.display_name, this.me.external)),
        ' ',
        el('span', { class: 'chat-state' }, t.chat.sending)),
      // Not yet rendered by the server: shown as plain text.
      el('p', { class: 'chat-body chat-plain' }, body))
    if (outgoing.attachments.length > 0) item.append(this.renderAttachments(outgoing.attachments))
    this.pendingItems.set(clientId, item)
    this.list.append(item)
    this.empty.hidden = true
    this.textarea.value = ''
    this.cancelReply(false)
    this.setFiles([])
    this.fileStatus.textContent = ''
    this.lastTypingSentAt = 0
    this.scrollToBottom()
  }

  private removePending(clientId: string): void {
    this.pendingItems.get(clientId)?.remove()
    this.pendingItems.delete(clientId)
    this.outgoing.delete(clientId)
  }
}
