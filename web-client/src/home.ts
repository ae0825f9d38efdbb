// The home view: the way to the messages, a search through the documents' titles, the user's
// workspaces with their documents (renamed, shared and deleted from here), open action items and
// members, the documents shared with them one by one, and the forms to create a workspace, a
// document (blank or meeting minutes), or an invitation for an external partner.
import { type ActionItem, api, ApiError, type DocumentInfo, type Member, type Session, type Workspace } from './api'
import { formatDay } from './content-view'
import { ask } from './dialog'
import { locale, t } from './i18n'
import { deleteLocalCopy, localCopyName } from './local-copy'
import { invitationForm, openShareDialog } from './share'
import { $, canEdit, describe, el, formatDate, notify, onSubmit, roleLabel, showBadge, showView, userName } from './ui'

const openDocument = (id: string, minutes = false) => {
  location.search = `?doc=${encodeURIComponent(id)}${minutes ? '&modele=compte-rendu' : ''}`
}

/** A document of a list: its link, role, and what its role allows (rename, share, delete). */
function documentItem(doc: DocumentInfo): HTMLLIElement {
  const link = el('a', { href: `?doc=${encodeURIComponent(doc.id)}` }, doc.title)
  const item = el('li', { class: 'document' }, link, el('span', { class: 'role' }, ` — ${roleLabel(doc.role)}`))
  item.dataset.title = doc.title
  const actions = el('span', { class: 'document-actions' })
  const button = (text: string, label: string, onClick: () => void, extra = '') => {
    const b = el('button', { type: 'button', class: `small ${extra}`.trim(), 'aria-label': label }, text)
    b.addEventListener('click', onClick)
    actions.append(b)
    return b
  }
  const labelled: [HTMLButtonElement, (title: string) => string][] = []
  if (canEdit(doc.role)) {
    const rename = button(t.documents.rename, t.documents.renameLabel(doc.title), () => {
      void ask({
        title: t.documents.renameTitle(doc.title),
        field: { label: t.documents.renameField, required: true, maxLength: 200, singleLine: true, value: doc.title },
        confirm: t.documents.renameConfirm,
        cancel: t.documents.cancel
      }).then(async (title) => {
        if (title === null || title === doc.title) return
        try {
          const renamed = await api.renameDocument(doc.id, title)
          doc.title = renamed.title
          link.textContent = renamed.title
          item.dataset.title = renamed.title
          for (const [b, label] of labelled) b.setAttribute('aria-label', label(renamed.title))
          notify(t.documents.renamed(renamed.title), 'info')
        } catch (error) {
          notify(describe(error))
        }
      })
    })
    labelled.push([rename, t.documents.renameLabel])
  }
  if (doc.role === 'owner') {
    labelled.push([button(t.documents.share, t.documents.shareLabel(doc.title), () => openShareDialog(doc)), t.documents.shareLabel])
    const remove = button(t.documents.remove, t.documents.removeLabel(doc.title), () => {
      void ask({
        title: t.documents.removeTitle(doc.title),
        text: t.documents.removeText,
        confirm: t.documents.removeConfirm,
        cancel: t.documents.cancel,
        danger: true
      }).then(async (answer) => {
        if (answer === null) return
        try {
          await api.deleteDocument(doc.id)
        } catch (error) {
          notify(describe(error))
          return
        }
        // This browser's copy of it, if any, has nowhere to go any more.
        if (shownFor !== null) void deleteLocalCopy(localCopyName(shownFor.user.id, doc.id))
        // Focus goes to the next document, or the previous, or the search box.
        const list = item.parentElement
        const next = item.nextElementSibling ?? item.previousElementSibling
        item.remove()
        if (list !== null && list.children.length === 0) {
          if (list.id === 'shared') list.append(el('li', { class: 'hint' }, t.home.noDocument))
          else list.replaceWith(el('p', { class: 'hint' }, t.home.noDocument))
        }
        notify(t.documents.removed(doc.title), 'info')
        const target = next?.querySelector('a') ?? $('document-search')
        target.focus()
        filterDocuments()
      })
    }, 'danger')
    labelled.push([remove, t.documents.removeLabel])
  }
  if (actions.childElementCount > 0) item.append(' ', actions)
  return item
}

function documentList(documents: DocumentInfo[], label: string): HTMLElement {
  if (documents.length === 0) return el('p', { class: 'hint' }, t.home.noDocument)
  const list = el('ul', { class: 'documents', 'aria-label': label })
  list.append(...documents.map(documentItem))
  return list
}

/** Compares titles without case or accents. */
const fold = (text: string) => text.normalize('NFD').replace(/\p{M}/gu, '').toLocaleLowerCase(locale)

/** Shows only the documents whose title contains the search box's text, and says how many. */
function filterDocuments(): void {
  const query = fold($<HTMLInputElement>('document-search').value.trim())
  const items = [...$('home-view').querySelectorAll<HTMLLIElement>('li.document')]
  let shown = 0
  for (const item of items) {
    item.hidden = query !== '' && !fold(item.dataset.title ?? '').includes(query)
    if (!item.hidden) shown++
  }
  $('document-search-count').textContent = query === '' ? '' : t.documents.found(shown)
}

/** The search box above the lists (made once). */
function searchBox(): void {
  const box = $('document-search-box')
  if (box.childElementCount > 0) return
  const input = el('input', { id: 'document-search', type: 'search', autocomplete: 'off', maxlength: '200', 'aria-describedby': 'document-search-hint' })
  box.append(
    el('label', { for: input.id }, t.documents.searchLabel), input,
    el('span', { id: 'document-search-hint', class: 'visually-hidden' }, t.documents.searchHint),
    // Announced politely as the count changes.
    el('span', { id: 'document-search-count', class: 'hint', role: 'status' }))
  input.addEventListener('input', filterDocuments)
}

function memberList(members: Member[]): HTMLElement {
  const list = el('ul', { class: 'members' })
  for (const member of members) {
    let detail = ` — ${roleLabel(member.role)}`
    if (member.expires_at_ms !== null) {
      detail += `, ${member.expired ? t.share.expired : t.share.until(formatDate(member.expires_at_ms))}`
    }
    list.append(el('li', {}, userName(member.user), el('span', { class: 'role' }, detail)))
  }
  return el('details', {}, el('summary', {}, t.home.members(members.length)), list)
}

const isoDay = (date: Date) =>
  `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`

function newDocumentForm(workspace: Workspace): HTMLElement {
  const id = `new-doc-${workspace.id}`
  const input = el('input', { id, type: 'text', required: '', maxlength: '200', autocomplete: 'off' })
  const minutes = el('input', { id: `${id}-minutes`, type: 'checkbox' })
  const form = el('form', { class: 'row' },
    el('label', { for: id }, t.home.newDocument), input,
    el('span', { class: 'check' }, minutes, el('label', { for: minutes.id }, t.minutes.newOption)),
    el('button', { type: 'submit' }, t.home.createDocument))
  onSubmit(form, async () => {
    const doc = await api.createDocument(workspace.id, input.value.trim())
    openDocument(doc.id, minutes.checked)
  })
  return form
}

const today = () => isoDay(new Date())

/** The workspace's open action items, from its meeting minutes, soonest first. */
function actionList(workspace: Workspace, actions: ActionItem[] | null): HTMLElement {
  const headingId = `actions-${workspace.id}`
  const heading = el('h4', { id: headingId }, t.minutes.openActions)
  if (actions === null) return el('section', { class: 'actions', 'aria-labelledby': headingId }, heading, el('p', { class: 'hint' }, t.minutes.actionsUnavailable))
  if (actions.length === 0) return el('section', { class: 'actions', 'aria-labelledby': headingId }, heading, el('p', { class: 'hint' }, t.minutes.noActions))
  const list = el('ul', { class: 'actions-list', 'aria-labelledby': headingId })
  for (const action of actions) {
    const item = el('li', {}, el('strong', {}, action.text || '…'), ' — ',
      t.minutes.actionLine(action.assignee, action.due === null ? null : formatDay(action.due)))
    if (action.due !== null && action.due < today()) item.append(' ', el('span', { class: 'overdue' }, `(${t.minutes.overdue})`))
    item.append(' — ', t.minutes.inDocument, ' ', el('a', { href: `?doc=${encodeURIComponent(action.document_id)}` }, action.document_title))
    list.append(item)
  }
  return el('section', { class: 'actions', 'aria-labelledby': headingId }, heading, list)
}

function inviteForm(workspace: Workspace): HTMLElement {
  const form = invitationForm(`invite-${workspace.id}`,
    (email, role, until) => api.invite(workspace.id, email, role, until),
    (message) => notify(message))
  return el('details', { class: 'invite' }, el('summary', {}, t.home.invite), form)
}

async function workspaceSection(workspace: Workspace): Promise<HTMLElement> {
  const [documents, members, actions] = await Promise.all([
    api.documents(workspace.id),
    api.members(workspace.id).catch(() => null),
    api.workspaceActions(workspace.id, 'open').catch(() => null)
  ])
  const headingId = `ws-${workspace.id}`
  const section = el('section', { class: 'workspace', 'aria-labelledby': headingId },
    el('h3', { id: headingId }, workspace.name, el('span', { class: 'role' }, ` — ${roleLabel(workspace.role)}`)),
    documentList(documents, t.home.documentsOf(workspace.name)),
    actionList(workspace, actions))
  if (canEdit(workspace.role)) section.append(newDocumentForm(workspace))
  if (members !== null) section.append(memberList(members))
  if (workspace.role === 'owner') section.append(inviteForm(workspace))
  return section
}

async function workspaceForm(session: Session): Promise<void> {
  const form = $<HTMLFormElement>('workspace-form')
  form.hidden = true
  if (session.user.external) return
  const organisations = await api.organisations().catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 403) return []
    throw error
  })
  const select = $<HTMLSelectElement>('workspace-organisation')
  select.replaceChildren(...organisations.map((o) => el('option', { value: o.id }, o.name)))
  if (session.user.organisation_id !== null) select.value = session.user.organisation_id
  form.hidden = organisations.length === 0
}

let shownFor: Session | null = null

/** Loads and shows the home view. */
export async function showHome(session: Session): Promise<void> {
  document.title = 'Relais'
  if (shownFor === null) {
    const form = $<HTMLFormElement>('workspace-form')
    const name = $<HTMLInputElement>('workspace-name')
    onSubmit(form, async () => {
      const created = await api.createWorkspace($<HTMLSelectElement>('workspace-organisation').value, name.value.trim())
      name.value = ''
      if (shownFor !== null) await showHome(shownFor)
      notify(t.home.workspaceCreated(created.name), 'info')
    })
  }
  shownFor = session
  // The unread counts on the way to the messages; the page works without them.
  api.conversations()
    .then((conversations) => showBadge($('messages-badge'),
      conversations.reduce((sum, c) => sum + c.unread, 0),
      conversations.reduce((sum, c) => sum + c.mentions, 0)))
    .catch(() => {})
  const [workspaces, shared] = await Promise.all([api.workspaces(), api.sharedDocuments(), workspaceForm(session)])
  const container = $('workspaces')
  container.replaceChildren(...(workspaces.length === 0
    ? [el('p', { class: 'hint' }, t.home.noWorkspace)]
    : await Promise.all(workspaces.map(workspaceSection))))
  const sharedList = $('shared')
  sharedList.replaceChildren(...(shared.length === 0
    ? [el('li', { class: 'hint' }, t.home.noDocument)]
    : shared.map(documentItem)))
  searchBox()
  filterDocuments()
  showView('home-view', !$('home-view').contains(document.activeElement))
}
