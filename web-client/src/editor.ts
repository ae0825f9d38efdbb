// The document view: a rich-text editor bound to the document's Y.XmlFragment over the
// stock y-websocket provider (authenticated by the session cookie, which the browser
// sends with the websocket handshake) and this browser's copy of it (IndexedDB: edits made
// offline wait there for the server), whether the server has our edits, who is here, the validation
// workflow (the editor turns read-only while the document is submitted), and two side
// panels: the document's history and its discussion.
import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { IndexeddbPersistence } from 'y-indexeddb'
import { api, currentSession, type Session } from './api'
import { chatSocket } from './chat-socket'
import { ChatView } from './chat-view'
import { isColor, loadColor } from './identity'
import { t } from './i18n'
import { deleteLocalCopy, localCopyName } from './local-copy'
import { SyncTracker } from './sync-status'
import { $, describe, el, isReadOnly, notify, personName, showBadge, showView } from './ui'

/** Close codes the server ends a connection with for good (the provider stops on 44xx). */
const UNAUTHENTICATED = 4401
const FORBIDDEN = 4403
/** The y-websocket message type by which the server refuses an edit ("permission denied"). */
const MESSAGE_AUTH = 2
/** `?doc=ID&modele=compte-rendu`: a new document to fill with the meeting minutes template. */
const TEMPLATE_PARAM = 'modele'
const MINUTES_TEMPLATE = 'compte-rendu'

/** What the line beside the title says (its `data-state`). */
type State = 'connecting' | 'saved' | 'sending' | 'offline' | 'reconnecting' | 'denied'
/** Edits the server has not confirmed after this long show as being sent. */
const SENDING_AFTER_MS = 1000

let close: (() => void) | null = null
/** Whether the open document has edits the server may not have. */
let unsent: () => boolean = () => false

/** Whether the open document has edits that have not reached the server yet. */
export const hasUnsentChanges = () => unsent()

/** Disconnects from the open document, if any. */
export function closeDocument(): void {
  close?.()
  close = null
  unsent = () => false
}

/**
 * Opens document `id`. `onUnauthenticated` runs when the server no longer
 * recognises the session (it closed the socket with 4401).
 */
export async function showDocument(session: Session, id: string, onUnauthenticated: () => void): Promise<void> {
  closeDocument()
  // The editor (TipTap and ProseMirror, most of the bundle) loads with the first document,
  // and so do the history and validation views.
  const [info, initialReview, { createRichEditor }, { historyPanel }, { reviewController }] = await Promise.all([
    api.document(id),
    // Whether the document is frozen for review, before the editor is shown editable.
    api.review(id).catch(() => null),
    import('./rich-editor'),
    import('./history'),
    import('./review')
  ])
  document.title = `${info.title} · Relais`
  $('doc-title').textContent = info.title

  const banner = $<HTMLParagraphElement>('read-only')
  const frozenBanner = $<HTMLParagraphElement>('frozen-banner')
  const readOnly = isReadOnly(info.role)
  banner.hidden = !readOnly
  let frozen = initialReview?.frozen === true
  let denied = false
  frozenBanner.hidden = !frozen

  const doc = new Y.Doc()
  // Readers have no edits to keep, and a reader's old copy (from when they could edit) must not
  // be sent again: theirs is deleted.
  const localName = localCopyName(session.user.id, info.id)
  const local = readOnly ? null : new IndexeddbPersistence(localName, doc)
  if (readOnly) void deleteLocalCopy(localName)
  const provider = new WebsocketProvider(
    `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/yjs`,
    // The provider puts the room into the URL as is; Relais decodes the segment.
    encodeURIComponent(info.id),
    doc
  )
  const me = {
    name: session.user.display_name,
    color: loadColor(),
    external: session.user.external
  }
  provider.awareness.setLocalStateField('user', me)
  const rich = createRichEditor({
    host: $('editor'),
    toolbar: $('editor-toolbar'),
    doc,
    provider,
    user: me,
    readOnly: readOnly || frozen,
    describedBy: () => [banner.hidden ? '' : 'read-only', frozenBanner.hidden ? '' : 'frozen-banner', 'status']
      .filter(Boolean).join(' ')
  })
  const applyEditable = () => rich.setReadOnly(readOnly || frozen || denied)

  // ---- connection and sync state -----------------------------------------------------

  const statusLine = $<HTMLParagraphElement>('status')
  // A connection attempt failed since the last successful one: we are offline until one works.
  let failedSinceConnected = false
  let closedWith: number | null = null
  // Whether the server has once confirmed having everything: until then, "Connexion…".
  let everSaved = false
  let sendingTimer: ReturnType<typeof setTimeout> | null = null
  // Since when local edits have been waiting for the server.
  let pendingSince = 0

  const currentState = (): State => {
    if (closedWith !== null) return 'denied'
    if (!navigator.onLine) return 'offline'
    if (!(provider.wsconnected && provider.synced)) {
      if (failedSinceConnected) return 'offline'
      return everSaved ? 'reconnecting' : 'connecting'
    }
    if (!tracker.pending) {
      everSaved = true
      return 'saved'
    }
    if (!everSaved) return 'connecting'
    // While typing, edits reach the server within moments: say "sending" only when they wait
    // (a slow network), or when they waited for the connection to come back, so that screen
    // readers do not hear "sending", "saved" at every pause.
    if (statusLine.dataset.state !== 'saved') return 'sending'
    const waited = Date.now() - pendingSince
    if (waited >= SENDING_AFTER_MS) return 'sending'
    if (sendingTimer === null) {
      sendingTimer = setTimeout(() => {
        sendingTimer = null
        showState()
      }, SENDING_AFTER_MS - waited)
    }
    return 'saved'
  }
  // Only touch the DOM when the state changes, so screen readers announce it once
  // (the provider retries every few seconds while the server is away).
  const show = (state: State) => {
    if (statusLine.dataset.state === state) return
    statusLine.dataset.state = state
    const labels: Record<State, string> = {
      connecting: t.sync.connecting,
      saved: readOnly ? t.sync.upToDate : t.sync.saved,
      sending: t.sync.sending,
      offline: readOnly ? t.sync.offlineReadOnly : t.sync.offline,
      reconnecting: t.sync.reconnecting,
      denied: t.sync.denied
    }
    statusLine.textContent = labels[state]
  }
  const showState = () => show(currentState())
  statusLine.dataset.state = ''
  const tracker = new SyncTracker(doc, provider, () => {
    if (tracker.pending) pendingSince = Date.now()
    showState()
  })
  unsent = () => tracker.pending

  provider.on('status', ({ status }) => {
    if (status === 'connected') {
      failedSinceConnected = false
      // On reconnect the provider re-announces our awareness with an unchanged
      // clock, which peers that saw us leave ignore (for up to 15 s, until the
      // next renewal). Bumping the clock makes us reappear at once.
      provider.awareness.setLocalState(provider.awareness.getLocalState())
    }
    showState()
  })
  provider.on('sync', showState)
  // A socket that closes after syncing is a connection lost (reconnecting); one that closes
  // before is a failed attempt.
  let syncedOnSocket = false
  provider.on('sync', (synced) => { if (synced) syncedOnSocket = true })
  provider.on('connection-close', () => {
    if (!syncedOnSocket) failedSinceConnected = true
    syncedOnSocket = false
    showState()
  })
  const sessionEnded = () => {
    closeDocument()
    notify(t.page.sessionEnded)
    onUnauthenticated()
  }
  // A 44xx close: the provider has stopped reconnecting.
  provider.on('closed', ({ code }) => {
    closedWith = code
    showState()
    if (code === UNAUTHENTICATED) {
      sessionEnded()
    } else if (code === FORBIDDEN) {
      denied = true
      applyEditable()
      // No access any more: this browser keeps no copy.
      void local?.clearData()
      notify(t.editor.accessRemoved)
      // A 4403 can also follow a session that ended at the same moment: check it.
      currentSession().then((current) => { if (current === null) sessionEnded() }, () => {})
    } else {
      notify(t.editor.connectionRefused)
    }
  })
  // The browser knows at once when the network goes away; the socket may take up to 30 s to
  // notice. Close it, and reconnect as soon as the network is back.
  const onNetwork = (event: Event) => {
    if (closedWith === null) {
      if (event.type === 'offline') provider.disconnect()
      else provider.connect()
    }
    showState()
  }
  window.addEventListener('online', onNetwork)
  window.addEventListener('offline', onNetwork)

  // Leave politely (peers see us go at once), and come back from the bfcache.
  const onPageHide = () => provider.disconnect()
  const onPageShow = (event: PageTransitionEvent) => { if (event.persisted && closedWith === null) provider.connect() }
  window.addEventListener('pagehide', onPageHide)
  window.addEventListener('pageshow', onPageShow)

  // ---- people present ---------------------------------------------------------

  const peopleList = $<HTMLUListElement>('people')
  const renderPeople = () => {
    const items: HTMLLIElement[] = []
    const states = [...provider.awareness.getStates()]
      .sort(([a], [b]) => (a === doc.clientID ? -1 : b === doc.clientID ? 1 : a - b))
    for (const [clientId, state] of states) {
      const user: unknown = state['user']
      if (user === null || typeof user !== 'object') continue
      const { name, color, external } = user as Record<string, unknown>
      const dot = el('span', { class: 'dot', 'aria-hidden': 'true' })
      dot.style.background = isColor(color) ? color : 'gray'
      const shown = typeof name === 'string' && name.trim() ? name.trim().slice(0, 200) : t.people.anonymous
      const li = el('li', {}, dot, personName(shown, external === true))
      if (clientId === doc.clientID) li.append(' ', el('span', { class: 'me' }, t.people.you))
      items.push(li)
    }
    peopleList.replaceChildren(...items)
  }
  provider.awareness.on('change', renderPeople)
  renderPeople()
  showState()

  // ---- validation and history -------------------------------------------------------------------

  const history = historyPanel({ documentId: info.id, role: info.role })
  history.setFrozen(frozen)
  // Edits the server refused stay in this tab's copy of the document; it would send them again
  // with its next sync, after the review. Once editing resumes, a fresh copy drops them.
  let refused = false
  const review = reviewController({
    documentId: info.id,
    role: info.role,
    onStatus: (status, changed) => {
      if (status.frozen !== frozen) {
        frozen = status.frozen
        frozenBanner.hidden = !frozen
        history.setFrozen(frozen)
        applyEditable()
        if (!frozen && refused) {
          refused = false
          notify(t.review.reloaded, 'info')
          // This browser's copy holds the refused edits too: start again from the server's.
          closeDocument()
          deleteLocalCopy(localName)
            .then(() => showDocument(session, id, onUnauthenticated))
            .catch((error: unknown) => notify(describe(error)))
          return
        }
      }
      // A submission, a decision or a restore made a version.
      if (changed) history.refresh()
    }
  })
  // The server refuses edits to a frozen document with "permission denied": learn at once why.
  const permissionDenied = provider.messageHandlers[MESSAGE_AUTH]
  provider.messageHandlers[MESSAGE_AUTH] = (...args) => {
    permissionDenied?.(...args)
    if (readOnly) return
    if (!refused) notify(t.review.refusedEdit)
    refused = true
    void review.refresh()
  }

  // A new meeting's minutes: the template goes in once the (empty) document is loaded.
  const params = new URLSearchParams(location.search)
  if (params.get(TEMPLATE_PARAM) === MINUTES_TEMPLATE) {
    const fill = (synced: boolean) => {
      if (!synced) return
      provider.off('sync', fill)
      if (!readOnly && !frozen) rich.insertMinutesTemplate()
      params.delete(TEMPLATE_PARAM)
      window.history.replaceState(null, '', `${location.pathname}?${params.toString()}`)
    }
    provider.on('sync', fill)
  }

  const closeDiscussion = discussionPanel(session, info.id)

  close = () => {
    if (sendingTimer !== null) clearTimeout(sendingTimer)
    tracker.destroy()
    review.close()
    history.close()
    closeDiscussion()
    window.removeEventListener('online', onNetwork)
    window.removeEventListener('offline', onNetwork)
    window.removeEventListener('pagehide', onPageHide)
    window.removeEventListener('pageshow', onPageShow)
    rich.destroy()
    provider.destroy()
    void local?.destroy()
    doc.destroy()
    peopleList.replaceChildren()
  }
  showView('editor-view')
}

/** Whether the discussion panel was open last time (kept across documents and reloads). */
const PANEL_KEY = 'relais.discussionOpen'

function panelWasOpen(): boolean {
  try {
    return localStorage.getItem(PANEL_KEY) === '1'
  } catch {
    return false
  }
}

/**
 * The discussion beside the document: a panel the "Discussion" button shows and hides,
 * with the unread count on the button while hidden. Returns the way to close it.
 */
function discussionPanel(session: Session, documentId: string): () => void {
  const toggle = $<HTMLButtonElement>('chat-toggle')
  const badge = $('chat-badge')
  const panel = $('chat-panel')
  const layout = $('doc-layout')
  let view: ChatView | null = null
  let closed = false
  let unread: [number, number] = [0, 0]

  const showUnread = () => showBadge(badge, panel.hidden ? unread[0] : 0, panel.hidden ? unread[1] : 0)
  const setOpen = (open: boolean, moveFocus: boolean) => {
    panel.hidden = !open
    toggle.setAttribute('aria-expanded', String(open))
    layout.classList.toggle('chat-open', open)
    showUnread()
    if (open && view !== null) {
      view.shown()
      if (moveFocus) view.focus()
    }
  }
  const onClick = () => {
    const open = panel.hidden !== false
    try {
      localStorage.setItem(PANEL_KEY, open ? '1' : '0')
    } catch {
      // unavailable storage: the panel's state just won't be remembered
    }
    setOpen(open, true)
  }
  toggle.addEventListener('click', onClick)

  const load = async () => {
    const conversation = await api.documentConversation(documentId)
    if (closed) return
    view = new ChatView({
      conversation,
      me: session.user,
      socket: chatSocket(),
      title: t.editor.discussion,
      headingLevel: 'h2',
      idPrefix: 'doc-chat',
      isVisible: () => !panel.hidden && !$('editor-view').hidden,
      onUnread: (count, mentions) => {
        unread = [count, mentions]
        showUnread()
      }
    })
    panel.replaceChildren(view.element)
    toggle.hidden = false
    setOpen(panelWasOpen(), false)
    await view.start()
  }
  load().catch((error: unknown) => {
    if (closed) return
    panel.replaceChildren(el('p', { class: 'hint' }, t.editor.discussionUnavailable(describe(error))))
    toggle.hidden = false
  })

  return () => {
    closed = true
    toggle.removeEventListener('click', onClick)
    view?.destroy()
    view = null
    panel.replaceChildren()
    setOpen(false, false)
    toggle.hidden = true
    showBadge(badge, 0)
  }
}
