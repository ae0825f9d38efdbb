// The "Messages" view: the user's channels, direct conversations and document discussions
// with their unread and mention counts, one conversation open beside them, and the forms to
// create a channel or start a direct conversation.
//
// The address says which conversation is open (`?messages=ID`); switching conversations
// changes it without reloading the page, so the chat connection stays up.
import { api, type Conversation, type Session, type Workspace } from './api'
import { chatSocket } from './chat-socket'
import { ChatView } from './chat-view'
import { locale, t } from './i18n'
import { $, canEdit, describe, el, notify, onSubmit, personName, showBadge, showView, userName } from './ui'

/** How often the counts of the conversations not open are refreshed while the view is shown. */
const REFRESH_MS = 30_000

interface State {
  session: Session
  conversations: Conversation[]
  workspaces: Workspace[]
  documentTitles: Map<string, string>
  /** Each conversation's link and badge in the list. */
  links: Map<string, { link: HTMLAnchorElement, badge: HTMLElement }>
  open: { id: string, view: ChatView } | null
}

let state: State | null = null
let refreshTimer: number | undefined

const isShown = () => !$('messages-view').hidden
const canComment = (role: string) => canEdit(role) || role === 'commenter'

function conversationName(current: State, conversation: Conversation): string {
  switch (conversation.kind) {
    case 'channel': {
      let name = t.messages.channelTitle(conversation.name)
      if (current.workspaces.length > 1) {
        const workspace = current.workspaces.find((w) => w.id === conversation.workspace_id)
        if (workspace !== undefined) name += ` (${workspace.name})`
      }
      return name
    }
    case 'direct': {
      const others = conversation.participants
        .filter((person) => person.id !== current.session.user.id)
        .map((person) => personName(person.display_name, person.external))
      return others.length === 0 ? t.messages.alone : others.join(', ')
    }
    case 'document': {
      const title = conversation.document_id === null ? undefined : current.documentTitles.get(conversation.document_id)
      return t.messages.documentDiscussion(title ?? null)
    }
  }
}

const conversationHref = (id: string) => `?messages=${encodeURIComponent(id)}`

async function load(session: Session): Promise<State> {
  const [conversations, workspaces, shared] = await Promise.all([
    api.conversations(),
    api.workspaces(),
    api.sharedDocuments().catch(() => [])
  ])
  const documentTitles = new Map<string, string>()
  for (const doc of shared) documentTitles.set(doc.id, doc.title)
  const missing = conversations.some((c) => c.document_id !== null && !documentTitles.has(c.document_id))
  if (missing) {
    const lists = await Promise.all(workspaces.map((w) => api.documents(w.id).catch(() => [])))
    for (const doc of lists.flat()) documentTitles.set(doc.id, doc.title)
  }
  return { session, conversations, workspaces, documentTitles, links: new Map(), open: state?.open ?? null }
}

const GROUPS: { kind: Conversation['kind'], title: string, empty: string }[] = [
  { kind: 'channel', title: t.messages.channels, empty: t.messages.noChannel },
  { kind: 'direct', title: t.messages.directs, empty: t.messages.noDirect },
  { kind: 'document', title: t.messages.documents, empty: t.messages.noDocument }
]

function renderLists(current: State): void {
  const container = $('conversation-lists')
  const focusedId = container.contains(document.activeElement)
    ? (document.activeElement as HTMLElement).dataset['conversation'] ?? null
    : null
  current.links.clear()
  const sections = GROUPS.map(({ kind, title, empty }) => {
    const headingId = `conversations-${kind}`
    const items = current.conversations
      .filter((c) => c.kind === kind)
      .map((c) => ({ conversation: c, name: conversationName(current, c) }))
      .sort((a, b) => a.name.localeCompare(b.name, locale))
    const list = el('ul', { class: 'conversations', 'aria-labelledby': headingId })
    for (const { conversation, name } of items) {
      const link = el('a', { href: conversationHref(conversation.id), 'data-conversation': conversation.id }, name)
      if (conversation.private) link.append(el('span', { class: 'role' }, t.messages.private))
      const badge = el('span', { class: 'badge' })
      link.append(badge)
      const counts = current.open?.id === conversation.id ? [0, 0] : [conversation.unread, conversation.mentions]
      showBadge(badge, counts[0] ?? 0, counts[1] ?? 0)
      if (current.open?.id === conversation.id) link.setAttribute('aria-current', 'page')
      link.addEventListener('click', (event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return
        event.preventDefault()
        history.pushState(null, '', conversationHref(conversation.id))
        void openConversation(conversation.id, true)
      })
      current.links.set(conversation.id, { link, badge })
      list.append(el('li', {}, link))
    }
    return el('section', { class: 'conversation-group', 'aria-labelledby': headingId },
      el('h3', { id: headingId }, title),
      items.length === 0 ? el('p', { class: 'hint' }, empty) : list)
  })
  container.replaceChildren(...sections)
  if (focusedId !== null) current.links.get(focusedId)?.link.focus()
}

async function refresh(): Promise<void> {
  if (state === null) return
  state = await load(state.session)
  renderLists(state)
}

function fillWorkspaceForms(current: State): void {
  const channelWorkspaces = current.workspaces.filter((w) => canComment(w.role))
  $<HTMLSelectElement>('channel-workspace').replaceChildren(
    ...channelWorkspaces.map((w) => el('option', { value: w.id }, w.name)))
  $('channel-details').hidden = channelWorkspaces.length === 0
  const directWorkspace = $<HTMLSelectElement>('direct-workspace')
  directWorkspace.replaceChildren(...current.workspaces.map((w) => el('option', { value: w.id }, w.name)))
  $('direct-details').hidden = current.workspaces.length === 0
  void fillMembers()
}

/** The people of the chosen workspace one can open a direct conversation with. */
async function fillMembers(): Promise<void> {
  if (state === null) return
  const workspace = $<HTMLSelectElement>('direct-workspace').value
  const select = $<HTMLSelectElement>('direct-member')
  const submit = $<HTMLFormElement>('direct-form').querySelector<HTMLButtonElement>('button[type="submit"]')
  select.replaceChildren()
  if (workspace === '') return
  const me = state.session.user.id
  try {
    const members = (await api.members(workspace)).filter((m) => m.user.id !== me && !m.expired)
    select.replaceChildren(...members.map((m) => el('option', { value: m.user.id }, userName(m.user))))
    select.disabled = members.length === 0
    if (members.length === 0) select.append(el('option', { value: '' }, t.messages.nobodyElse))
  } catch {
    select.disabled = true
    select.append(el('option', { value: '' }, t.messages.membersUnavailable))
  }
  if (submit !== null) submit.disabled = select.disabled
}

let initialised = false

function initialise(): void {
  if (initialised) return
  initialised = true
  const channelName = $<HTMLInputElement>('channel-name')
  const channelPrivate = $<HTMLInputElement>('channel-private')
  onSubmit($<HTMLFormElement>('channel-form'), async () => {
    const created = await api.createChannel($<HTMLSelectElement>('channel-workspace').value, channelName.value.trim(), channelPrivate.checked)
    channelName.value = ''
    channelPrivate.checked = false
    notify(t.messages.channelCreated(created.name ?? ''), 'info')
    await refresh()
    history.pushState(null, '', conversationHref(created.id))
    await openConversation(created.id, true)
  })
  $<HTMLSelectElement>('direct-workspace').addEventListener('change', () => void fillMembers())
  onSubmit($<HTMLFormElement>('direct-form'), async () => {
    const member = $<HTMLSelectElement>('direct-member').value
    if (member === '') return
    const conversation = await api.createDirect([member])
    await refresh()
    history.pushState(null, '', conversationHref(conversation.id))
    await openConversation(conversation.id, true)
  })
  // Back and forward between conversations.
  window.addEventListener('popstate', () => {
    if (!isShown()) return
    const id = new URLSearchParams(location.search).get('messages')?.trim() || null
    if (id === null) closeConversation()
    else void openConversation(id, true)
  })
  // A mention elsewhere: the counts change.
  chatSocket().onEvent((event) => {
    if (event.type === 'mention' && isShown() && state?.open?.id !== event.message.conversation_id) {
      refresh().catch(() => {})
    }
  })
}

function closeConversation(): void {
  if (state === null) return
  state.open?.view.destroy()
  state.open = null
  for (const { link } of state.links.values()) link.removeAttribute('aria-current')
  $('conversation-pane').replaceChildren(el('p', { class: 'hint' }, t.messages.choose))
  document.title = `${t.messages.title} · Relais`
}

async function openConversation(id: string, moveFocus: boolean): Promise<void> {
  if (state === null) return
  if (state.open?.id === id) {
    if (moveFocus) state.open.view.heading.focus()
    return
  }
  let conversation = state.conversations.find((c) => c.id === id)
  if (conversation === undefined) {
    await refresh()
    conversation = state.conversations.find((c) => c.id === id)
  }
  if (conversation === undefined) {
    notify(t.messages.notFound)
    closeConversation()
    return
  }
  closeConversation()
  const current = state
  const name = conversationName(current, conversation)
  const view = new ChatView({
    conversation,
    me: current.session.user,
    socket: chatSocket(),
    title: name,
    headingLevel: 'h3',
    idPrefix: 'messages-chat',
    isVisible: isShown,
    onUnread: (unread, mentions) => {
      const badge = state?.links.get(id)?.badge
      if (badge !== undefined) showBadge(badge, unread, mentions)
    }
  })
  current.open = { id, view }
  for (const [linkId, { link }] of current.links) {
    if (linkId === id) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  const pane = $('conversation-pane')
  pane.replaceChildren(view.element)
  if (conversation.kind === 'document' && conversation.document_id !== null) {
    view.heading.after(el('p', {}, el('a', { href: `?doc=${encodeURIComponent(conversation.document_id)}` }, t.messages.openDocument)))
  }
  document.title = `${name} · ${t.messages.title} · Relais`
  if (moveFocus) view.heading.focus()
  try {
    await view.start()
  } catch (error) {
    if (state.open?.view === view) pane.append(el('p', { class: 'chat-error', role: 'alert' }, describe(error)))
  }
}

/** Shows the Messages view, with conversation `conversationId` open if given. */
export async function showMessages(session: Session, conversationId: string | null): Promise<void> {
  initialise()
  document.title = `${t.messages.title} · Relais`
  state = await load(session)
  renderLists(state)
  fillWorkspaceForms(state)
  showView('messages-view', conversationId === null)
  if (conversationId !== null) await openConversation(conversationId, true)
  window.clearInterval(refreshTimer)
  refreshTimer = window.setInterval(() => {
    if (isShown() && document.visibilityState === 'visible') refresh().catch(() => {})
  }, REFRESH_MS)
}
