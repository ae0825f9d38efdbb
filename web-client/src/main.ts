// Relais web client: sign-in, invitations, the list of workspaces and
// documents, one shared text per document with its discussion, and the messages.
//
// The page's address says what to show: `?invitation=SECRET` an invitation to
// accept, `?doc=ID` a document (with `&modele=compte-rendu`, new meeting minutes to fill with
// the template), `?messages[=ID]` the messages (one conversation
// open), nothing the home view. Without a session, the
// sign-in form comes first, then the page carries on where it was going.
import { api, ApiError, currentSession, useSession, type Session } from './api'
import { chatSocket } from './chat-socket'
import { ask } from './dialog'
import { closeDocument, hasUnsentChanges, showDocument } from './editor'
import { showHome } from './home'
import { chooseLanguage, language, LANGUAGES, t, translatePage, type Language } from './i18n'
import { deleteAllLocalCopies } from './local-copy'
import { showMessages } from './messages'
import { $, describe, el, formatDate, notify, onSubmit, roleLabel, showView, userName } from './ui'
import './style.css'

// The language: French unless English was chosen here; the switch loads the page again.
// The page's fixed text comes from the catalogue too.
translatePage()
const languageSelect = $<HTMLSelectElement>('language')
languageSelect.replaceChildren(...LANGUAGES.map(({ code, name }) => el('option', { value: code, lang: code }, name)))
languageSelect.value = language
languageSelect.addEventListener('change', () => chooseLanguage(languageSelect.value as Language))

const params = new URLSearchParams(location.search)
let pendingInvitation = params.get('invitation')?.trim() || null
const docId = params.get('doc')?.trim() || null
const messages = params.has('messages') ? { conversation: params.get('messages')?.trim() || null } : null

let session: Session | null = null

function setSession(next: Session | null): void {
  session = useSession(next)
  $('account').hidden = session === null
  $('account-name').textContent = session === null ? '' : userName(session.user)
}

/** Forgets the address's invitation, so that reloading does not show it again. */
function leaveInvitation(): void {
  pendingInvitation = null
  const url = new URL(location.href)
  url.searchParams.delete('invitation')
  history.replaceState(null, '', url)
}

const signedOut = () => {
  setSession(null)
  showView('sign-in-view')
}

// The chat connection is closed with 4401 when the session ends (signed out elsewhere,
// expired, revoked).
chatSocket().onSessionEnded = () => {
  closeDocument()
  notify(t.page.sessionEnded)
  signedOut()
}

async function route(): Promise<void> {
  try {
    setSession(await currentSession())
    if (pendingInvitation !== null) {
      await showInvitation(pendingInvitation)
    } else if (session === null) {
      showView('sign-in-view')
    } else if (docId !== null) {
      await openDocument(session, docId)
    } else if (messages !== null) {
      await showMessages(session, messages.conversation)
    } else {
      await showHome(session)
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      notify(describe(error))
      signedOut()
    } else {
      notify(describe(error))
    }
  }
}

async function openDocument(current: Session, id: string): Promise<void> {
  try {
    await showDocument(current, id, signedOut)
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error
    notify(t.editor.notFound)
    history.replaceState(null, '', location.pathname)
    await showHome(current)
  }
}

// ---- signing in and out -------------------------------------------------------

const signInForm = $<HTMLFormElement>('sign-in-form')
onSubmit(signInForm, async () => {
  const email = $<HTMLInputElement>('sign-in-email')
  const password = $<HTMLInputElement>('sign-in-password')
  try {
    setSession(await api.signIn(email.value.trim(), password.value))
  } catch (error) {
    notify(describe(error, { unauthenticated: t.signIn.refused }))
    password.focus()
    return
  }
  password.value = ''
  notify('')
  await route()
})

$<HTMLButtonElement>('sign-out').addEventListener('click', async () => {
  // Signing out leaves none of the documents in this browser: unsent edits would be lost.
  if (hasUnsentChanges()) {
    const answer = await ask({
      title: t.sync.signOutTitle,
      text: t.sync.signOutText,
      confirm: t.sync.signOutConfirm,
      cancel: t.sync.cancel,
      danger: true
    })
    if (answer === null) return
  }
  closeDocument()
  await deleteAllLocalCopies()
  api.signOut()
    .catch(() => { /* an expired session is signed out already */ })
    .finally(() => location.assign(location.pathname))
})

// ---- invitations --------------------------------------------------------------

const invitationForm = $<HTMLFormElement>('invitation-form')
const invitationFields = [$<HTMLInputElement>('invitation-name'), $<HTMLInputElement>('invitation-password')]

async function showInvitation(secret: string): Promise<void> {
  let invitation
  try {
    invitation = await api.invitation(secret)
  } catch (error) {
    notify(describe(error, { not_found: t.invitation.notFound, conflict: t.invitation.invalid }))
    leaveInvitation()
    return route()
  }
  $('invitation-summary').textContent =
    t.invitation.summary(invitation.email, invitation.document_id !== null, roleLabel(invitation.role), formatDate(invitation.expires_at_ms)) +
    (session === null ? t.invitation.newAccount : '')
  // Signed in, the invitation goes to the current account: no new name or password.
  $('invitation-account').hidden = session !== null
  for (const field of invitationFields) field.disabled = session !== null
  showView('invitation-view')
}

onSubmit(invitationForm, async () => {
  const secret = pendingInvitation
  if (secret === null) return
  const [name, password] = invitationFields
  try {
    setSession(session === null
      ? await api.acceptInvitation(secret, name?.value.trim(), password?.value)
      : await api.acceptInvitation(secret))
  } catch (error) {
    notify(describe(error, {
      conflict: t.invitation.conflict,
      forbidden: t.invitation.otherAddress,
      not_found: t.invitation.notFound
    }))
    return
  }
  if (password) password.value = ''
  leaveInvitation()
  notify(t.invitation.accepted, 'info')
  await route()
})

void route()
