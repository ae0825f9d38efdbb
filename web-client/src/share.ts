// Sharing: the form inviting an external partner (to a workspace or to one document), and a
// document's sharing dialog for its owners: who has a role of their own on it (change it,
// remove it), and invitations with the link to pass on.
import { api, type CreatedInvitation, type DocumentInfo, type Member, type Role } from './api'
import { t } from './i18n'
import { describe, el, formatDate, onSubmit, ROLE_LABELS, roleLabel, userName } from './ui'

const DAY_MS = 86_400_000

const isoDay = (date: Date) =>
  `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, '0')}-${String(date.getDate()).padStart(2, '0')}`

/** Roles an invitation may give (an external partner is never an owner). */
const INVITED_ROLES: Role[] = ['reader', 'commenter', 'editor', 'validator']

/**
 * The form inviting a partner by e-mail with a role and an expiry date; shows the link to pass
 * on, with a button copying it. `say` reports problems (in a dialog, the page's alert is inert).
 */
export function invitationForm(
  prefix: string,
  create: (email: string, role: Role, expiresAtMs: number) => Promise<CreatedInvitation>,
  say: (message: string) => void
): HTMLFormElement {
  const email = el('input', { id: `${prefix}-email`, type: 'email', required: '', maxlength: '254', autocomplete: 'off' })
  const role = el('select', { id: `${prefix}-role` })
  for (const value of INVITED_ROLES) role.append(el('option', { value }, ROLE_LABELS[value]))
  const expiry = el('input', {
    id: `${prefix}-expiry`,
    type: 'date',
    required: '',
    min: isoDay(new Date(Date.now() + DAY_MS)),
    value: isoDay(new Date(Date.now() + 30 * DAY_MS))
  })
  const result = el('div', { class: 'invitation-result', role: 'status' })
  const form = el('form', { class: 'stack' },
    el('label', { for: email.id }, t.share.email), email,
    el('label', { for: role.id }, t.share.role), role,
    el('label', { for: expiry.id }, t.share.expiry), expiry,
    el('button', { type: 'submit' }, t.share.invite),
    result)
  onSubmit(form, async () => {
    // The access lasts until the end of the chosen day, local time.
    const until = new Date(`${expiry.value}T23:59:59`).getTime()
    if (Number.isNaN(until) || until <= Date.now()) {
      say(t.share.futureExpiry)
      expiry.focus()
      return
    }
    let created: CreatedInvitation
    try {
      created = await create(email.value.trim(), role.value as Role, until)
    } catch (error) {
      say(describe(error))
      return
    }
    const linkId = `${prefix}-link`
    const link = el('input', { id: linkId, type: 'text', readonly: '', value: created.url, class: 'link' })
    link.addEventListener('focus', () => link.select())
    const copied = el('span', { class: 'hint' })
    const copy = el('button', { type: 'button', class: 'small' }, t.share.copy)
    copy.addEventListener('click', () => {
      navigator.clipboard.writeText(created.url).then(
        () => { copied.textContent = t.share.copied },
        () => {
          copied.textContent = t.share.copyFailed
          link.focus()
        })
    })
    result.replaceChildren(
      el('label', { for: linkId },
        t.share.linkLabel(created.invitation.email, roleLabel(created.invitation.role), formatDate(created.invitation.expires_at_ms))),
      link,
      el('span', { class: 'row' }, copy, copied))
    email.value = ''
  })
  return form
}

let nextDialog = 0

/** Opens the sharing dialog of `doc` (its owners). Focus returns where it was when it closes. */
export function openShareDialog(doc: DocumentInfo): void {
  const id = `share-${++nextDialog}`
  const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null
  const title = el('h2', { id: `${id}-title` }, t.share.title(doc.title))
  // The page's alert region is inert behind a modal dialog: the dialog has its own.
  const alert = el('p', { class: 'dialog-alert', role: 'alert' })
  const status = el('p', { class: 'visually-hidden', role: 'status' })
  const say = (message: string) => { alert.textContent = message }
  const tell = (message: string) => {
    alert.textContent = ''
    status.textContent = message
  }

  const membersTitle = el('h3', { id: `${id}-members` }, t.share.membersTitle)
  const list = el('ul', { class: 'share-members', 'aria-labelledby': membersTitle.id })
  const empty = el('p', { class: 'hint' }, t.share.loading)

  const render = (members: Member[]) => {
    empty.textContent = members.length === 0 ? t.share.noMembers : ''
    empty.hidden = members.length > 0
    list.replaceChildren(...members.map((member, index) => memberRow(member, `${id}-m${index}`)))
  }
  const reload = async () => render(await api.documentMembers(doc.id))

  const memberRow = (member: Member, rowId: string): HTMLLIElement => {
    const name = userName(member.user)
    const select = el('select', { id: `${rowId}-role`, 'aria-label': t.share.roleOf(name) })
    // An external partner can never own a document.
    const roles: Role[] = member.user.external ? INVITED_ROLES : ['owner', ...INVITED_ROLES]
    for (const value of roles) select.append(el('option', { value }, ROLE_LABELS[value]))
    select.value = member.role
    select.addEventListener('change', () => {
      const role = select.value as Role
      api.setDocumentMember(doc.id, member.user.id, role, member.expires_at_ms)
        .then(() => {
          member.role = role
          tell(t.share.roleChanged(name, roleLabel(role)))
        })
        .catch((error: unknown) => {
          select.value = member.role
          say(describe(error))
        })
    })
    const remove = el('button', { type: 'button', class: 'small danger', 'aria-label': t.share.removeMemberLabel(name) }, t.share.removeMember)
    remove.addEventListener('click', () => {
      api.removeDocumentMember(doc.id, member.user.id)
        .then(async () => {
          tell(t.share.memberRemoved(name))
          await reload()
          // The row and its button are gone: keep focus in the dialog, on the list's heading.
          membersTitle.focus()
        })
        .catch((error: unknown) => say(describe(error)))
    })
    const detail = member.expires_at_ms === null
      ? ''
      : member.expired ? t.share.expired : t.share.until(formatDate(member.expires_at_ms))
    return el('li', { class: 'row' },
      el('span', { class: 'share-name' }, name),
      select,
      detail ? el('span', { class: 'hint' }, detail) : '',
      remove)
  }
  membersTitle.setAttribute('tabindex', '-1')

  const inviteTitle = el('h3', { id: `${id}-invite` }, t.share.inviteTitle)
  const form = invitationForm(`${id}-invite`, async (email, role, until) => {
    const created = await api.inviteToDocument(doc.id, email, role, until)
    alert.textContent = ''
    return created
  }, say)

  const close = el('button', { type: 'button' }, t.share.close)
  const dialog = el('dialog', { class: 'dialog share-dialog', 'aria-labelledby': title.id },
    el('div', { class: 'row spread' }, title, close),
    alert, status,
    el('section', { 'aria-labelledby': membersTitle.id },
      membersTitle, el('p', { class: 'hint' }, t.share.membersHint), empty, list),
    el('section', { 'aria-labelledby': inviteTitle.id }, inviteTitle, form))
  close.addEventListener('click', () => dialog.close())
  dialog.addEventListener('close', () => {
    dialog.remove()
    if (previous?.isConnected) previous.focus()
  })
  document.body.append(dialog)
  dialog.showModal()
  close.focus()
  reload().catch((error: unknown) => {
    empty.textContent = ''
    say(describe(error))
  })
}
