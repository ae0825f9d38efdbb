#!/usr/bin/env node
// Drives the web client in headless Chromium (Debian's, never a downloaded one), each person in
// a separate browser context:
// - Anne (administrator) signs in through the form, creates a workspace through the UI,
//   invites an external partner as reader through the "Inviter un partenaire" form, adds Bruno
//   as editor (API) and creates a document through the UI;
// - Bruno signs in through the form and opens it from the list; both type in the rich-text
//   editor and see each other's text and presence; Anne makes a word bold from the toolbar and
//   Bruno sees it as <strong>, with Anne's caret and name; Anne's undo and redo take back and
//   restore her bold only;
// - Claire accepts the invitation link (creating her external account), opens the document,
//   gets the "Lecture seule" banner and a read-only editor she cannot type in, sees later edits, and appears as
//   "(externe)";
// - in the document's discussion panel, Anne sends Markdown with an HTML injection attempt:
//   Bruno sees her typing, then the message live with the bold rendered, no <img> and nothing
//   run; Bruno answers on two lines (Shift+Enter) and Anne sees it and reacts with 👍; Claire
//   has an unread badge, sees both messages, and her composer is disabled;
// - once Anne removes Claire, she is told "Accès retiré ou refusé" and loses the discussion;
// - Anne creates a channel in the "Messages" view and mentions Bruno, who follows the mention
//   badges from the home screen to the message;
// - Bruno signs out in another tab, and his document's tab goes back to the sign-in form.
// Usage: node browser.mjs --url http://127.0.0.1:PORT --people JSON
//   JSON: {"anne":{"email","password"},"bruno":{"email","password","id"}}
// Prints one JSON line with the outcome; exits non-zero on failure.

import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'

const { values: args } = parseArgs({ options: { url: { type: 'string' }, people: { type: 'string' } } })
const people = JSON.parse(args.people)
const executablePath = process.env.RELAIS_TEST_CHROMIUM ?? '/usr/bin/chromium'
const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run']
})
const timeout = 15_000
const step = (what) => console.error(`[browser] ${what}`)
// Uncaught exceptions in any page fail the run.
const pageErrors = []

// Separate contexts: tabs of one profile share cookies and could sync through
// BroadcastChannel, which would hide a server bug.
const newPage = async () => {
  const context = await browser.newContext({ locale: 'fr-FR' })
  context.setDefaultTimeout(timeout)
  const page = await context.newPage()
  page.on('pageerror', (error) => {
    console.error(`[page error] ${error}`)
    pageErrors.push(String(error))
  })
  return page
}

// The rich-text editor (ProseMirror), and its text without the other people's carets.
const EDITOR = '#editor .ProseMirror'
// In the page: the editor's text, or whether it is `expected` when given.
function readEditor([selector, expected]) {
  const copy = document.querySelector(selector)?.cloneNode(true)
  if (!copy) return expected === undefined ? null : false
  for (const caret of copy.querySelectorAll('.collaboration-carets__caret')) caret.remove()
  const text = copy.textContent.replace(/\u2060/g, '')
  return expected === undefined ? text : text === expected
}
const editorText = (page) => page.evaluate(readEditor, [EDITOR])
const editorHas = (page, text) => page.waitForFunction(readEditor, [EDITOR, text], { timeout })

const peopleInclude = (page, name) =>
  page.waitForFunction((n) => [...document.querySelectorAll('#people li')].some((li) => li.textContent.includes(n)), name, { timeout })

const connected = (page) => page.waitForSelector('#status[data-state="connected"]', { timeout })

// The document's discussion panel: opened with its button, followed live once subscribed.
const chatPanel = (page) => page.locator('#chat-panel')
const openDiscussion = async (page) => {
  await page.getByRole('button', { name: /^Discussion/ }).click()
  await chatPanel(page).locator('.chat[data-live="true"] .chat-log[role="log"][aria-live="polite"]').waitFor()
}
// The committed messages of the panel, as { author, text, time } in order.
const chatMessages = (page) => page.locator('#chat-panel li.chat-message[data-seq]').evaluateAll((items) =>
  items.map((li) => ({
    author: li.querySelector('.chat-author')?.textContent,
    text: li.querySelector('.chat-body')?.textContent,
    time: li.querySelector('time')?.textContent
  })))
const chatHasMessage = (page, text) =>
  page.waitForFunction((t) => [...document.querySelectorAll('#chat-panel li.chat-message[data-seq] .chat-body')]
    .some((body) => body.textContent.includes(t)), text, { timeout })

const signIn = async (page, who) => {
  await page.goto(`${args.url}/`)
  await page.getByRole('heading', { name: 'Connexion' }).waitFor()
  await page.getByLabel('Adresse e-mail', { exact: true }).fill(who.email)
  await page.getByLabel('Mot de passe', { exact: true }).fill(who.password)
  await page.getByRole('button', { name: 'Se connecter', exact: true }).click()
  await page.getByRole('heading', { name: 'Vos espaces de travail' }).waitFor()
}

// The API as the signed-in user of `page` (same cookies), with the session's CSRF token.
const apiAs = async (page) => {
  const session = await (await page.request.get(`${args.url}/api/session`)).json()
  const send = async (method, path, data) => {
    const response = await page.request.fetch(`${args.url}${path}`, {
      method,
      headers: { 'X-CSRF-Token': session.csrf_token, 'Content-Type': 'application/json' },
      data: data === undefined ? undefined : JSON.stringify(data)
    })
    if (!response.ok()) throw new Error(`${method} ${path}: ${response.status()} ${await response.text()}`)
    return response.status() === 204 ? null : response.json()
  }
  return { session, send }
}

try {
  // ---- Anne: sign in, workspace, invitation, member, document --------------------------
  const anne = await newPage()
  await anne.goto(`${args.url}/`)
  if (await anne.getAttribute('html', 'lang') !== 'fr') throw new Error('html lang is not fr')
  await anne.getByRole('link', { name: 'Se connecter avec ProConnect / OpenID Connect' }).waitFor()
  step('anne signs in')
  await signIn(anne, people.anne)
  await anne.getByLabel('Nouvel espace de travail').fill('Conseil municipal')
  await anne.getByRole('button', { name: 'Créer l’espace' }).click()
  await anne.getByRole('heading', { name: /Conseil municipal/, level: 3 }).waitFor()

  step('anne invites claire')
  await anne.getByText('Inviter un partenaire').click()
  await anne.getByLabel('Adresse e-mail du partenaire').fill('claire.durand@bureau-etudes.example')
  await anne.getByLabel('Rôle').selectOption('reader')
  await anne.getByRole('button', { name: 'Créer l’invitation' }).click()
  const link = await anne.locator('.invitation-result input').inputValue()
  const secret = new URL(link).searchParams.get('invitation')
  if (!secret) throw new Error(`no invitation in ${link}`)

  const anneApi = await apiAs(anne)
  const [workspace] = await anneApi.send('GET', '/api/workspaces')
  await anneApi.send('PUT', `/api/workspaces/${workspace.id}/members/${people.bruno.id}`, { role: 'editor' })

  step('anne creates the document')
  await anne.getByLabel('Nouveau document').fill('Ordre du jour')
  await anne.getByRole('button', { name: 'Créer le document' }).click()
  await anne.waitForURL(/\?doc=/)
  await connected(anne)
  const title = await anne.locator('#doc-title').textContent()
  if (title !== 'Ordre du jour') throw new Error(`title is ${title}`)

  // ---- Bruno: sign in, open from the list, co-edit ------------------------------------
  step('bruno signs in and opens the document')
  const bruno = await newPage()
  await signIn(bruno, people.bruno)
  await bruno.getByRole('link', { name: 'Ordre du jour' }).click()
  await connected(bruno)
  if (await bruno.locator('#read-only').isVisible()) throw new Error('the editor sees the read-only banner')

  await anne.locator(EDITOR).click()
  await anne.keyboard.type('Ordre du jour : budget.')
  await editorHas(bruno, 'Ordre du jour : budget.')
  await bruno.locator(EDITOR).click()
  await bruno.locator(EDITOR).press('End')
  await bruno.keyboard.type(' Vote.')
  await editorHas(anne, 'Ordre du jour : budget. Vote.')

  step('anne makes a word bold; bruno sees it and her caret')
  await anne.locator(EDITOR).press('Home')
  for (let i = 0; i < 'Ordre'.length; i++) await anne.keyboard.press('Shift+ArrowRight')
  const boldButton = anne.getByRole('toolbar', { name: 'Mise en forme' }).getByRole('button', { name: 'Gras' })
  if (await boldButton.getAttribute('aria-pressed') !== 'false') throw new Error('"Gras" is pressed before use')
  // Changes less than 500 ms apart are undone together: keep the bold a step of its own.
  await anne.waitForTimeout(600)
  await boldButton.click()
  await anne.waitForFunction(() => document.querySelector('#editor-toolbar button[aria-label="Gras"]')?.getAttribute('aria-pressed') === 'true', null, { timeout })
  await bruno.waitForFunction(() => [...document.querySelectorAll('#editor .ProseMirror strong')].some((b) => b.textContent === 'Ordre'), null, { timeout })
  await bruno.waitForFunction(() => [...document.querySelectorAll('#editor .ProseMirror .collaboration-carets__caret')]
    .some((caret) => caret.textContent.includes('Anne Martin')), null, { timeout })
  await editorHas(bruno, 'Ordre du jour : budget. Vote.')
  // Both started from an empty document: the binding must not have added a paragraph each.
  const blocks = await bruno.locator(`${EDITOR} > *`).evaluateAll((nodes) => nodes.map((n) => n.tagName))
  if (blocks.join() !== 'P') throw new Error(`bruno's document has blocks ${blocks.join()}`)

  step('anne undoes and redoes her bold, and only that')
  const bold = (page) => page.locator(`${EDITOR} strong`).count()
  await anne.getByRole('toolbar', { name: 'Mise en forme' }).getByRole('button', { name: 'Annuler' }).click()
  await bruno.waitForFunction(() => document.querySelector('#editor .ProseMirror strong') === null, null, { timeout })
  await editorHas(bruno, 'Ordre du jour : budget. Vote.')
  await anne.keyboard.press('Control+Shift+z')
  await bruno.locator(`${EDITOR} strong`, { hasText: 'Ordre' }).waitFor()
  if (await bold(anne) !== 1) throw new Error('redo did not bring the bold back for anne')
  await peopleInclude(anne, 'Bruno Petit')
  await peopleInclude(bruno, 'Anne Martin')

  // ---- Claire: accept the invitation, read only ---------------------------------------
  step('claire accepts the invitation')
  const claire = await newPage()
  await claire.goto(`${args.url}/?invitation=${encodeURIComponent(secret)}`)
  await claire.getByRole('heading', { name: 'Invitation' }).waitFor()
  const summary = await claire.locator('#invitation-summary').textContent()
  if (!summary.includes('lecture')) throw new Error(`invitation summary: ${summary}`)
  await claire.getByLabel('Votre nom').fill('Claire Durand')
  await claire.getByLabel('Choisissez un mot de passe').fill('un mot de passe assez long')
  await claire.getByRole('button', { name: 'Accepter l’invitation' }).click()
  await claire.getByRole('heading', { name: 'Vos espaces de travail' }).waitFor()
  const account = await claire.locator('#account-name').textContent()
  if (account !== 'Claire Durand (externe)') throw new Error(`account name: ${account}`)

  step('claire opens the document read-only')
  await claire.getByRole('link', { name: 'Ordre du jour' }).click()
  await connected(claire)
  await editorHas(claire, 'Ordre du jour : budget. Vote.')
  const banner = claire.locator('#read-only')
  await banner.waitFor({ state: 'visible' })
  if (!(await banner.textContent()).includes('Lecture seule')) throw new Error('no "Lecture seule" banner')
  if (await claire.locator(EDITOR).getAttribute('contenteditable') !== 'false') throw new Error('the editor is editable')
  if (await claire.locator('#editor-toolbar').isVisible()) throw new Error('the reader sees the formatting toolbar')
  await claire.locator(EDITOR).click()
  await claire.keyboard.type('X')
  if (await editorText(claire) !== 'Ordre du jour : budget. Vote.') throw new Error(`the reader typed: ${await editorText(claire)}`)
  await peopleInclude(anne, 'Claire Durand (externe)')
  await peopleInclude(claire, 'Anne Martin')
  await bruno.locator(EDITOR).click()
  await bruno.locator(EDITOR).press('End')
  await bruno.keyboard.type(' Fin.')
  const final = 'Ordre du jour : budget. Vote. Fin.'
  await editorHas(claire, final)
  await editorHas(anne, final)

  // ---- The document's discussion --------------------------------------------------------
  step('anne and bruno open the discussion')
  await Promise.all([openDiscussion(anne), openDiscussion(bruno)])
  const attack = 'Budget en **gras** <img src=x onerror="window.__pwned=1">'
  const anneComposer = chatPanel(anne).getByLabel('Votre message')
  await anneComposer.click()
  await anne.keyboard.type(attack)
  await bruno.waitForFunction(() => document.querySelector('#chat-panel .chat-typing')?.textContent === 'Anne Martin écrit…', null, { timeout })
  await anneComposer.press('Enter')
  step('bruno sees the message, rendered safely')
  await bruno.waitForFunction(() => [...document.querySelectorAll('#chat-panel li.chat-message[data-seq] .chat-body strong')]
    .some((strong) => strong.textContent === 'gras'), null, { timeout })
  const seenByBruno = await bruno.evaluate(() => ({
    images: document.querySelectorAll('#chat-panel img').length,
    pwned: window.__pwned,
    typing: document.querySelector('#chat-panel .chat-typing').textContent
  }))
  if (seenByBruno.images !== 0) throw new Error('an <img> element reached the chat panel')
  if (seenByBruno.pwned !== undefined) throw new Error('script from a message ran')
  if (seenByBruno.typing !== '') throw new Error(`still typing: ${seenByBruno.typing}`)
  const [first] = await chatMessages(bruno)
  if (first?.author !== 'Anne Martin' || !first.text.includes('<img src=x onerror=') || !/^\d{2}:\d{2}$/.test(first.time ?? '')) {
    throw new Error(`bruno sees ${JSON.stringify(first)}`)
  }
  // Anne's own copy is no longer pending once committed.
  await anne.waitForFunction(() => document.querySelector('#chat-panel .chat-pending') === null &&
    document.querySelector('#chat-panel li.chat-message[data-seq] strong')?.textContent === 'gras', null, { timeout })

  step('bruno answers on two lines, anne reacts')
  await chatPanel(bruno).getByLabel('Votre message').click()
  await bruno.keyboard.type('Bien reçu.')
  await bruno.keyboard.press('Shift+Enter')
  await bruno.keyboard.type('Je relis ce soir.')
  await bruno.keyboard.press('Enter')
  await chatHasMessage(anne, 'Je relis ce soir.')
  const seenByAnne = await chatMessages(anne)
  if (seenByAnne.length !== 2 || seenByAnne[1].author !== 'Bruno Petit' || seenByAnne[1].text.trim() !== 'Bien reçu.\nJe relis ce soir.') {
    throw new Error(`anne sees ${JSON.stringify(seenByAnne)}`)
  }
  await chatPanel(anne).locator('li.chat-message[data-seq]', { hasText: 'Je relis ce soir.' })
    .getByRole('button', { name: 'Réagir avec 👍' }).click()
  await chatPanel(bruno).getByRole('button', { name: /^Réaction 👍 : 1 personne\./ }).waitFor()

  step('claire reads the discussion but cannot write')
  await claire.getByRole('button', { name: /^Discussion.*\(2 non lus\)/ }).waitFor()
  await openDiscussion(claire)
  await chatHasMessage(claire, 'Je relis ce soir.')
  const seenByClaire = await chatMessages(claire)
  if (seenByClaire.map((m) => m.author).join(', ') !== 'Anne Martin, Bruno Petit') throw new Error(`claire sees ${JSON.stringify(seenByClaire)}`)
  if (!(await chatPanel(claire).getByLabel('Votre message').isDisabled())) throw new Error('the reader can write in the discussion')
  if (!(await chatPanel(claire).getByRole('button', { name: 'Envoyer' }).isDisabled())) throw new Error('the reader has an active "Envoyer" button')
  await chatPanel(claire).getByText('Vous pouvez lire cette discussion mais pas y écrire.').waitFor()
  if (await claire.locator('#chat-badge').isVisible()) throw new Error('the unread badge stays once the panel is open')
  for (const page of [anne, bruno, claire]) {
    const leaked = await page.evaluate(() => ({ pwned: window.__pwned, images: document.querySelectorAll('#chat-panel img').length }))
    if (leaked.pwned !== undefined || leaked.images !== 0) throw new Error(`a message injected HTML: ${JSON.stringify(leaked)}`)
  }

  step('anne removes claire')
  const claireId = (await apiAs(claire)).session.user.id
  await anneApi.send('DELETE', `/api/workspaces/${workspace.id}/members/${claireId}`)
  await claire.waitForSelector('#status[data-state="denied"]', { timeout })
  const notice = await claire.locator('#notice').textContent()
  if (!notice.includes('Accès retiré ou refusé')) throw new Error(`notice after removal: ${notice}`)
  await chatPanel(claire).getByText('Vous n’avez plus accès à cette discussion.').waitFor()

  // Signing out in another tab revokes the session: the document's tab is closed with 4401
  // and shows the sign-in form.
  // ---- The Messages view -------------------------------------------------------------------
  step('anne creates a channel from the messages view and mentions bruno')
  const anneText = await editorText(anne)
  await anne.goto(`${args.url}/`)
  await anne.getByRole('link', { name: /^Messages/ }).click()
  await anne.getByRole('heading', { name: 'Messages', level: 2 }).waitFor()
  await anne.getByRole('link', { name: /^Discussion : Ordre du jour/ }).waitFor()
  await anne.getByText('Nouveau canal').click()
  await anne.getByLabel('Nom du canal').fill('Bureau')
  await anne.getByRole('button', { name: 'Créer le canal' }).click()
  const anneChannel = anne.locator('#conversation-pane')
  await anneChannel.locator('.chat[data-live="true"]').waitFor()
  await anneChannel.getByLabel('Votre message').fill('Réunion jeudi, @bruno.petit ?')
  await anneChannel.getByLabel('Votre message').press('Enter')
  await anneChannel.locator('li.chat-message[data-seq]', { hasText: 'Réunion jeudi' }).waitFor()

  step('bruno follows the mention from the home screen')
  const brunoHome = await bruno.context().newPage()
  await brunoHome.goto(`${args.url}/`)
  await brunoHome.getByRole('link', { name: /^Messages.*dont 1 mention/ }).click()
  await brunoHome.getByRole('link', { name: /^# Bureau.*\(1 non lu, dont 1 mention\)/ }).click()
  await brunoHome.locator('#conversation-pane li.chat-message[data-seq]', { hasText: 'Réunion jeudi' }).waitFor()
  await brunoHome.waitForFunction(() => document.querySelector('#conversation-lists [aria-current="page"] .badge')?.hidden === true, null, { timeout })

  step('bruno signs out in another tab')
  await brunoHome.getByRole('button', { name: 'Se déconnecter' }).click()
  await brunoHome.getByRole('heading', { name: 'Connexion' }).waitFor()
  await bruno.getByRole('heading', { name: 'Connexion' }).waitFor()

  if (pageErrors.length > 0) throw new Error(`uncaught errors in the pages: ${pageErrors.join('; ')}`)
  console.log(JSON.stringify({ ok: true, text: anneText }))
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error) }))
  process.exitCode = 1
} finally {
  await browser.close()
}
