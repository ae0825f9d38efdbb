// The home view: the way to the messages, the user's workspaces with their documents,
// open action items and members, the documents shared with them one by one, and the forms to
// create a workspace, a document (blank or meeting minutes), or an invitation for an external
// partner.
import { type ActionItem, api, ApiError, type DocumentInfo, type Member, type Role, type Session, type Workspace } from './api'
import { formatDay } from './content-view'
import { t } from './i18n'
import { $, canEdit, el, formatDate, notify, onSubmit, roleLabel, ROLE_LABELS, showBadge, showView, userName } from './ui'

const openDocument = (id: string, minutes = false) => {
  location.search = `?doc=${encodeURIComponent(id)}${minutes ? '&modele=compte-rendu' : ''}`
}

function documentList(documents: DocumentInfo[], label: string): HTMLElement {
  if (documents.length === 0) return el('p', { class: 'hint' }, 'Aucun document.')
  const list = el('ul', { class: 'documents', 'aria-label': label })
  for (const doc of documents) {
    list.append(el('li', {},
      el('a', { href: `?doc=${encodeURIComponent(doc.id)}` }, doc.title),
      el('span', { class: 'role' }, ` — ${roleLabel(doc.role)}`)))
  }
  return list
}

function memberList(members: Member[]): HTMLElement {
  const list = el('ul', { class: 'members' })
  for (const member of members) {
    let detail = ` — ${roleLabel(member.role)}`
    if (member.expires_at_ms !== null) {
      detail += member.expired ? ', accès expiré' : `, jusqu’au ${formatDate(member.expires_at_ms)}`
    }
    list.append(el('li', {}, userName(member.user), el('span', { class: 'role' }, detail)))
  }
  return el('details', {}, el('summary', {}, `Membres (${members.length})`), list)
}

const isoDay = (date: Date) =>
  `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`

function newDocumentForm(workspace: Workspace): HTMLElement {
  const id = `new-doc-${workspace.id}`
  const input = el('input', { id, type: 'text', required: '', maxlength: '200', autocomplete: 'off' })
  const minutes = el('input', { id: `${id}-minutes`, type: 'checkbox' })
  const form = el('form', { class: 'row' },
    el('label', { for: id }, 'Nouveau document'), input,
    el('span', { class: 'check' }, minutes, el('label', { for: minutes.id }, t.minutes.newOption)),
    el('button', { type: 'submit' }, 'Créer le document'))
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
  const prefix = `invite-${workspace.id}`
  const email = el('input', { id: `${prefix}-email`, type: 'email', required: '', maxlength: '254', autocomplete: 'off' })
  const role = el('select', { id: `${prefix}-role` })
  for (const value of ['reader', 'commenter', 'editor', 'validator'] as Role[]) {
    role.append(el('option', { value }, ROLE_LABELS[value]))
  }
  const tomorrow = new Date(Date.now() + 86_400_000)
  const inAMonth = new Date(Date.now() + 30 * 86_400_000)
  const expiry = el('input', { id: `${prefix}-expiry`, type: 'date', required: '', min: isoDay(tomorrow), value: isoDay(inAMonth) })
  const result = el('div', { class: 'invitation-result', role: 'status' })
  const form = el('form', { class: 'stack' },
    el('label', { for: email.id }, 'Adresse e-mail du partenaire'), email,
    el('label', { for: role.id }, 'Rôle'), role,
    el('label', { for: expiry.id }, 'Accès jusqu’au (inclus)'), expiry,
    el('button', { type: 'submit' }, 'Créer l’invitation'),
    result)
  onSubmit(form, async () => {
    // The access lasts until the end of the chosen day, local time.
    const until = new Date(`${expiry.value}T23:59:59`).getTime()
    if (Number.isNaN(until) || until <= Date.now()) {
      notify('Choisissez une date d’expiration à venir.')
      expiry.focus()
      return
    }
    const created = await api.invite(workspace.id, email.value.trim(), role.value as Role, until)
    const linkId = `${prefix}-link`
    const link = el('input', { id: linkId, type: 'text', readonly: '', value: created.url, class: 'link' })
    link.addEventListener('focus', () => link.select())
    result.replaceChildren(
      el('label', { for: linkId },
        `Lien à transmettre à ${created.invitation.email} (rôle ${roleLabel(created.invitation.role)}, jusqu’au ${formatDate(created.invitation.expires_at_ms)}) :`),
      link)
    email.value = ''
  })
  return el('details', { class: 'invite' }, el('summary', {}, 'Inviter un partenaire'), form)
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
    documentList(documents, `Documents de ${workspace.name}`),
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
      notify(`Espace de travail «\u00a0${created.name}\u00a0» créé.`, 'info')
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
    ? [el('p', { class: 'hint' }, 'Aucun espace de travail pour l’instant.')]
    : await Promise.all(workspaces.map(workspaceSection))))
  const sharedList = $('shared')
  sharedList.replaceChildren(...(shared.length === 0
    ? [el('li', { class: 'hint' }, 'Aucun document.')]
    : shared.map((doc) => el('li', {},
      el('a', { href: `?doc=${encodeURIComponent(doc.id)}` }, doc.title),
      el('span', { class: 'role' }, ` — ${roleLabel(doc.role)}`)))))
  showView('home-view', !$('home-view').contains(document.activeElement))
}
