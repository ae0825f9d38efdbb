import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { bindTextarea } from './binding'
import { isColor, loadUser, saveUser } from './identity'
import './style.css'

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const DEFAULT_DOC = 'bienvenue'
const docName = new URLSearchParams(location.search).get('doc')?.trim() || DEFAULT_DOC
document.title = `${docName} · Relais`

// ---- document name: changing it opens that document ----------------------

const docForm = $<HTMLFormElement>('doc-form')
const docInput = $<HTMLInputElement>('doc-name')
docInput.value = docName
const openDoc = () => {
  const name = docInput.value.trim() || DEFAULT_DOC
  if (name !== docName) location.search = `?doc=${encodeURIComponent(name)}`
}
docInput.addEventListener('change', openDoc)
docForm.addEventListener('submit', (event) => {
  event.preventDefault()
  openDoc()
})

// ---- the shared text --------------------------------------------------------

const doc = new Y.Doc()
const provider = new WebsocketProvider(
  `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/yjs`,
  // The provider puts the room into the URL as is; Relais decodes the segment.
  encodeURIComponent(docName),
  doc
)
bindTextarea(doc.getText('text'), $<HTMLTextAreaElement>('editor'))

// ---- connection state -------------------------------------------------------

const statusLine = $<HTMLParagraphElement>('status')
type State = 'connected' | 'connecting' | 'offline'
const LABELS: Record<State, string> = { connected: 'Connecté', connecting: 'Connexion…', offline: 'Hors ligne' }
let failedSinceConnected = false
let closedForGood = false

// Only touch the DOM when the state changes, so screen readers announce it once
// (the provider retries every few seconds while the server is away).
const showState = () => {
  const state: State = provider.wsconnected && provider.synced
    ? 'connected'
    : closedForGood || failedSinceConnected || !navigator.onLine ? 'offline' : 'connecting'
  if (statusLine.dataset.state === state) return
  statusLine.dataset.state = state
  statusLine.textContent = LABELS[state]
}

provider.on('status', ({ status }) => {
  if (status === 'connected') {
    failedSinceConnected = false
    closedForGood = false
    // On reconnect the provider re-announces our awareness with an unchanged
    // clock, which peers that saw us leave ignore (for up to 15 s, until the
    // next renewal). Bumping the clock makes us reappear at once.
    provider.awareness.setLocalState(provider.awareness.getLocalState())
  }
  showState()
})
provider.on('sync', showState)
provider.on('connection-close', () => { failedSinceConnected = true; showState() })
provider.on('closed', () => { closedForGood = true; showState() })
window.addEventListener('online', showState)
window.addEventListener('offline', showState)
showState()

// Leave politely (peers see us go at once), and come back from the bfcache.
window.addEventListener('pagehide', () => provider.disconnect())
window.addEventListener('pageshow', (event) => { if (event.persisted) provider.connect() })

// ---- people present ---------------------------------------------------------

const me = loadUser()
const nameInput = $<HTMLInputElement>('user-name')
nameInput.value = me.name
const announce = () => {
  provider.awareness.setLocalStateField('user', { name: me.name.trim() || 'Anonyme', color: me.color })
}
nameInput.addEventListener('input', () => {
  me.name = nameInput.value
  saveUser(me)
  announce()
})
announce()

const peopleList = $<HTMLUListElement>('people')
const renderPeople = () => {
  const items: HTMLLIElement[] = []
  const states = [...provider.awareness.getStates()]
    .sort(([a], [b]) => (a === doc.clientID ? -1 : b === doc.clientID ? 1 : a - b))
  for (const [clientId, state] of states) {
    const user: unknown = state['user']
    if (user === null || typeof user !== 'object') continue
    const { name, color } = user as Record<string, unknown>
    const li = document.createElement('li')
    const dot = document.createElement('span')
    dot.className = 'dot'
    dot.setAttribute('aria-hidden', 'true')
    dot.style.background = isColor(color) ? color : 'gray'
    li.append(dot, typeof name === 'string' && name.trim() ? name : 'Anonyme')
    if (clientId === doc.clientID) {
      const you = document.createElement('span')
      you.className = 'me'
      you.textContent = '(vous)'
      li.append(' ', you)
    }
    items.push(li)
  }
  peopleList.replaceChildren(...items)
}
provider.awareness.on('change', renderPeople)
renderPeople()
