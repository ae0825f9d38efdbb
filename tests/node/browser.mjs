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
//   has an unread badge, sees both messages, and her composer is disabled; Bruno answers
//   Anne's message in a thread from the keyboard (« Répondre »), and Anne sees the reply quoting
//   and linking to her message, which counts « 1 réponse »; Anne attaches a text file (a refused
//   type is explained first) and Bruno gets a download link with its size; Anne edits her
//   message and Bruno sees « (modifié) »; Anne deletes one after a confirmation;
// - once Anne removes Claire, she is told "Accès retiré ou refusé" and loses the discussion;
// - Anne loses the network ("Hors ligne — les modifications seront envoyées") and types: Bruno
//   does not get it until the network is back, then within seconds, and Anne sees "Enregistré";
//   offline again, she types and closes the tab: the edit waits in IndexedDB and reaches Bruno
//   when she opens the document again;
// - on her home view Anne searches her documents by title, renames one, shares it (changes then
//   removes Bruno's role of his own, invites a partner and copies the link) and deletes it after
//   a confirmation; Bruno, an editor, may rename but neither share nor delete;
// - Anne creates a channel in the "Messages" view and mentions Bruno, who follows the mention
//   badges from the home screen to the message;
// - Bruno signs out in another tab, and his document's tab goes back to the sign-in form;
// - Bruno's signed-out tab shows the sign-in form in English, then in French again;
// - Anne switches the interface to English from the header: the Messages view and the page's
//   fixed text show no French left, then she switches back to French.
// With `--scenario history`, the version history and the validation workflow instead (see
// `historyAndValidation` below): meeting minutes from the template with an action item, a named
// version, a comparison with <ins>, a submission that turns the editor read-only, a validator's
// approval seen live, publication.
// Usage: node browser.mjs --url http://127.0.0.1:PORT --people JSON [--scenario history] [--screenshots DIR]
//   JSON: {"anne":{"email","password"},"bruno":{"email","password","id"}[,"valerie":{"email","password","id"}]}
// Prints one JSON line with the outcome; exits non-zero on failure.

import { mkdir, readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'

const { values: args } = parseArgs({
  options: { url: { type: 'string' }, people: { type: 'string' }, scenario: { type: 'string' }, screenshots: { type: 'string' } }
})
const people = JSON.parse(args.people)
const executablePath = process.env.RELAIS_TEST_CHROMIUM ?? '/usr/bin/chromium'
const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run']
})
const timeout = 15_000
const step = (what) => console.error(`[browser] ${what}`)
// Screenshots of the main screens, for people reviewing the interface (`--screenshots DIR`).
const shoot = async (page, name) => {
  if (!args.screenshots) return
  await mkdir(args.screenshots, { recursive: true })
  await page.screenshot({ path: join(args.screenshots, `${name}.png`), fullPage: true })
}
// Accessibility: axe-core audits the main screens; a serious or critical violation fails the run.
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')
const audits = []
const audit = async (page, name) => {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource)
  const started = Date.now()
  const violations = await page.evaluate(async () => {
    const results = await window.axe.run(document, { resultTypes: ['violations'] })
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), html: n.html.slice(0, 200), summary: n.failureSummary }))
    }))
  })
  const blocking = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  audits.push({ name, ms: Date.now() - started, violations: violations.map((v) => `${v.id} (${v.impact})`) })
  if (blocking.length > 0) {
    // Printed in full, and the run fails at its end (so that one run shows every screen's).
    console.error(`[axe] ${name}: ${JSON.stringify(blocking, null, 2)}`)
    axeFailures.push(`${blocking.map((v) => `${v.id} (${v.impact}, ${v.nodes.length})`).join(', ')} on ${name}`)
  }
}
const axeFailures = []
// Uncaught exceptions in any page fail the run.
const pageErrors = []
const pages = []

// Separate contexts: tabs of one profile share cookies and could sync through
// BroadcastChannel, which would hide a server bug.
const newPage = async () => {
  const context = await browser.newContext({ locale: 'fr-FR' })
  context.setDefaultTimeout(timeout)
  return pageIn(context)
}
// Another tab of the same person (same cookies and IndexedDB).
const pageIn = async (context) => {
  const page = await context.newPage()
  pages.push(page)
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

// Connected, and the server has everything this tab wrote ("Enregistré", "À jour" for readers).
const connected = (page) => page.waitForSelector('#status[data-state="saved"]', { timeout })

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

// The page's fixed text (index.html), by catalogue key: its elements' text and worded attributes.
const staticWording = (page) => page.evaluate(() => {
  const wording = {}
  for (const element of document.querySelectorAll('[data-i18n]')) wording[element.dataset.i18n] = element.textContent
  for (const element of document.querySelectorAll('[data-i18n-attr]')) {
    for (const pair of element.dataset.i18nAttr.split(/\s+/).filter(Boolean)) {
      const [name, key] = pair.split(':')
      wording[key] = element.getAttribute(name)
    }
  }
  return wording
})
// The fixed text spelled alike in French and English.
const SAME_IN_BOTH = new Set(['messages.title', 'messages.conversations', 'invitation.title', 'home.organisation', 'editor.discussion'])
// Visible text that only French has: none of it may be left once the interface is in English.
const leftoverFrench = (page, phrases) => page.evaluate((list) => list.filter((phrase) => document.body.innerText.includes(phrase)), phrases)
// Switches the interface from the header (the page loads again in that language).
const switchLanguage = async (page, from, to) => {
  await page.getByRole('combobox', { name: from === 'fr' ? 'Langue' : 'Language' }).selectOption(to)
  await page.waitForFunction((lang) => document.documentElement.lang === lang, to, { timeout })
}

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

async function coEditing() {
  // ---- Anne: sign in, workspace, invitation, member, document --------------------------
  let anne = await newPage()
  await anne.goto(`${args.url}/`)
  if (await anne.getAttribute('html', 'lang') !== 'fr') throw new Error('html lang is not fr')
  await anne.getByRole('link', { name: 'Se connecter avec ProConnect / OpenID Connect' }).waitFor()
  await audit(anne, 'sign-in')
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
  await audit(anne, 'editor')
  const title = await anne.locator('#doc-title').textContent()
  if (title !== 'Ordre du jour') throw new Error(`title is ${title}`)

  // ---- Bruno: sign in, open from the list, co-edit ------------------------------------
  step('bruno signs in and opens the document')
  const bruno = await newPage()
  await signIn(bruno, people.bruno)
  await bruno.getByRole('link', { name: 'Ordre du jour' }).waitFor()
  await audit(bruno, 'document list')
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
  await shoot(bruno, 'co-editing')

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
  await shoot(bruno, 'discussion')
  await audit(bruno, 'editor with the discussion')
  await bruno.emulateMedia({ colorScheme: 'dark' })
  await audit(bruno, 'editor with the discussion, dark')
  await bruno.emulateMedia({ colorScheme: 'light' })

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

  step('bruno replies to anne in a thread, from the keyboard')
  const firstSeq = await chatPanel(bruno).locator('li.chat-message[data-seq]', { hasText: 'Budget en' }).getAttribute('data-seq')
  const anneFirst = (page) => chatPanel(page).locator(`li.chat-message[data-seq="${firstSeq}"]`)
  const replyButton = anneFirst(bruno).getByRole('button', { name: 'Répondre', exact: true })
  await replyButton.focus()
  await bruno.keyboard.press('Enter')
  const replyContext = chatPanel(bruno).locator('.chat-reply-box')
  await replyContext.getByText(/^Réponse à Anne Martin : « Budget en gras/).waitFor()
  const brunoComposer = chatPanel(bruno).getByLabel('Votre message')
  if (!(await brunoComposer.evaluate((input) => input === document.activeElement))) throw new Error('« Répondre » did not move focus to the composer')
  await bruno.keyboard.type('Je prends le budget.')
  await bruno.keyboard.press('Enter')
  if (await replyContext.isVisible()) throw new Error('the reply context stays after sending')
  const annesReply = chatPanel(anne).locator('li.chat-message.chat-reply[data-seq]', { hasText: 'Je prends le budget.' })
  const quoteLink = annesReply.locator('.chat-quote').getByRole('link', { name: 'En réponse à Anne Martin' })
  await quoteLink.waitFor()
  await anneFirst(anne).locator('.chat-thread').getByRole('link', { name: /^1 réponse/ }).waitFor()
  await quoteLink.click()
  if (!(await anneFirst(anne).evaluate((item) => item === document.activeElement))) throw new Error('the quote does not lead to the message it answers')

  step('anne attaches a text file; a refused type is explained')
  const attach = async (file) => {
    const [chooser] = await Promise.all([anne.waitForEvent('filechooser'), chatPanel(anne).getByRole('button', { name: 'Joindre un fichier' }).click()])
    await chooser.setFiles(file)
  }
  await attach({ name: 'programme.exe', mimeType: 'application/x-msdownload', buffer: Buffer.from('MZ') })
  await chatPanel(anne).locator('.chat-error', { hasText: '« programme.exe » n’a pas pu être joint : les fichiers de type « application/x-msdownload » ne sont pas acceptés par le serveur.' }).waitFor()
  const fileText = 'Ordre du jour\n1. Budget\n'
  await attach({ name: 'ordre-du-jour.txt', mimeType: 'text/plain', buffer: Buffer.from(fileText) })
  await chatPanel(anne).getByRole('list', { name: 'Fichiers joints au prochain message' }).getByText('ordre-du-jour.txt (24 octets)').waitFor()
  await anneComposer.fill('Le programme en pièce jointe.')
  await anneComposer.press('Enter')
  const download = chatPanel(bruno).locator('li.chat-message[data-seq]', { hasText: 'Le programme en pièce jointe.' })
    .getByRole('list', { name: 'Pièces jointes' }).getByRole('link', { name: 'ordre-du-jour.txt' })
  await download.waitFor()
  // Intl puts a no-break space between the number and its unit.
  const fileSize = (await download.locator('xpath=..').textContent()).replace(/\s/g, ' ')
  if (fileSize !== 'ordre-du-jour.txt (24 octets)') throw new Error(`the attachment reads ${fileSize}`)
  if (await download.getAttribute('download') !== 'ordre-du-jour.txt') throw new Error('the attachment is not a download')
  const fetched = await bruno.request.get(`${args.url}${await download.getAttribute('href')}`)
  if (await fetched.text() !== fileText || !(fetched.headers()['content-disposition'] ?? '').startsWith('attachment')) {
    throw new Error(`the attachment downloads as ${fetched.status()} ${fetched.headers()['content-disposition']}`)
  }

  step('anne edits her message; bruno sees « (modifié) »')
  await anneFirst(anne).getByRole('button', { name: 'Modifier', exact: true }).click()
  const editor = anneFirst(anne).getByLabel('Modifier le message')
  if (await editor.inputValue() !== attack) throw new Error(`the editor holds ${await editor.inputValue()}`)
  await audit(anne, 'discussion with a thread, an attachment and a message being edited')
  await editor.press('Escape')
  await anneFirst(anne).getByRole('button', { name: 'Modifier', exact: true }).click()
  await editor.fill('Budget en **gras**, version corrigée.')
  await editor.press('Enter')
  const brunoSeesEdit = chatPanel(bruno).locator('li.chat-message[data-seq]', { hasText: 'version corrigée.' })
  await brunoSeesEdit.locator('.chat-edited', { hasText: '(modifié)' }).waitFor()
  await chatPanel(bruno).locator('.chat-quote', { hasText: 'Budget en gras, version corrigée.' }).waitFor()
  await anneFirst(anne).getByRole('button', { name: 'Modifier', exact: true }).waitFor()

  step('anne deletes a message after a confirmation')
  await chatPanel(anne).locator('li.chat-message[data-seq]', { hasText: 'Le programme en pièce jointe.' }).getByRole('button', { name: 'Supprimer', exact: true }).click()
  await anne.getByRole('dialog', { name: 'Supprimer ce message ?' }).getByRole('button', { name: 'Supprimer le message' }).click()
  await chatPanel(bruno).locator('li.chat-deleted[data-seq]', { hasText: 'Message supprimé' }).waitFor()
  if (await chatPanel(bruno).getByRole('link', { name: 'ordre-du-jour.txt' }).count() !== 0) throw new Error('a deleted message keeps its attachment')
  await shoot(bruno, 'discussion-thread')

  step('anne removes claire')
  const claireId = (await apiAs(claire)).session.user.id
  await anneApi.send('DELETE', `/api/workspaces/${workspace.id}/members/${claireId}`)
  await claire.waitForSelector('#status[data-state="denied"]', { timeout })
  const notice = await claire.locator('#notice').textContent()
  if (!notice.includes('Accès retiré ou refusé')) throw new Error(`notice after removal: ${notice}`)
  await chatPanel(claire).getByText('Vous n’avez plus accès à cette discussion.').waitFor()

  // ---- Offline edits ----------------------------------------------------------------------------
  step('anne loses the network and types; bruno does not get it')
  await anne.evaluate(() => {
    // Every state the line beside the title goes through, to report.
    window.__states = []
    new MutationObserver(() => window.__states.push(document.querySelector('#status').dataset.state))
      .observe(document.querySelector('#status'), { attributes: true, attributeFilter: ['data-state'] })
  })
  const anneContext = anne.context()
  await anneContext.setOffline(true)
  await anne.locator('#status[data-state="offline"]').waitFor()
  const offlineLabel = await anne.locator('#status').textContent()
  if (offlineLabel !== 'Hors ligne — les modifications seront envoyées') throw new Error(`offline, the status reads ${offlineLabel}`)
  await anne.locator(EDITOR).click()
  await anne.locator(EDITOR).press('Control+End')
  await anne.keyboard.type(' Hors ligne.')
  const offlineText = `${final} Hors ligne.`
  await editorHas(anne, offlineText)
  if (await anne.locator('#status').getAttribute('data-state') !== 'offline') throw new Error('typing offline left the offline state')
  // Nothing can prove an absence at once: give the edit a second to arrive if it could.
  await bruno.waitForTimeout(1000)
  if (await editorText(bruno) !== final) throw new Error(`bruno got an offline edit: ${await editorText(bruno)}`)

  step('the network comes back: bruno gets the edit, anne sees "Enregistré"')
  const backAt = Date.now()
  await anneContext.setOffline(false)
  await editorHas(bruno, offlineText)
  const deliveredAfterMs = Date.now() - backAt
  if (deliveredAfterMs > 5_000) throw new Error(`the offline edit arrived after ${deliveredAfterMs} ms`)
  await anne.locator('#status[data-state="saved"]', { hasText: 'Enregistré' }).waitFor()
  const offlineStates = await anne.evaluate(() => window.__states)

  step('anne types offline and closes the tab: the edit waits in the browser')
  await anneContext.setOffline(true)
  await anne.locator('#status[data-state="offline"]').waitFor()
  // y-indexeddb stores every change as one record, asynchronously: wait for those of the typing.
  const storedRecords = () => anne.evaluate(async (name) => {
    const db = await new Promise((resolve, reject) => {
      const request = indexedDB.open(name)
      request.onsuccess = () => resolve(request.result)
      request.onerror = () => reject(request.error)
    })
    try {
      return await new Promise((resolve, reject) => {
        const request = db.transaction('updates').objectStore('updates').count()
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => reject(request.error)
      })
    } finally {
      db.close()
    }
  }, `relais-doc:${anneApi.session.user.id}:${new URL(anne.url()).searchParams.get('doc')}`)
  const recordsBefore = await storedRecords()
  await anne.locator(EDITOR).press('Control+End')
  const kept = ' Gardé.'
  await anne.keyboard.type(kept)
  const deadline = Date.now() + timeout
  while (await storedRecords() < recordsBefore + kept.length) {
    if (Date.now() > deadline) throw new Error('the offline edit never reached IndexedDB')
    await anne.waitForTimeout(50)
  }
  const documentUrl = anne.url()
  await anne.close()
  await anneContext.setOffline(false)
  if (await editorText(bruno) !== offlineText) throw new Error(`bruno got an edit from a closed tab: ${await editorText(bruno)}`)
  step('anne opens the document again: bruno gets the kept edit')
  anne = await pageIn(anneContext)
  await anne.goto(documentUrl)
  await editorHas(bruno, offlineText + kept)
  await connected(anne)
  await editorHas(anne, offlineText + kept)

  // Signing out in another tab revokes the session: the document's tab is closed with 4401
  // and shows the sign-in form.
  // ---- The Messages view -------------------------------------------------------------------
  step('anne creates a channel from the messages view and mentions bruno')
  const anneText = await editorText(anne)

  // ---- The documents on the home view ------------------------------------------------------------
  step('anne searches her documents')
  const draft = await anneApi.send('POST', `/api/workspaces/${workspace.id}/documents`, { title: 'Brouillon à jeter' })
  // A role of Bruno's own on that document, for the sharing dialog to show.
  await anneApi.send('PUT', `/api/documents/${draft.id}/members/${people.bruno.id}`, { role: 'commenter' })
  await anne.goto(`${args.url}/`)
  const search = anne.getByRole('search').getByRole('searchbox', { name: 'Rechercher un document' })
  await search.fill('ORDRE')
  await anne.getByRole('status').filter({ hasText: '1 document trouvé.' }).waitFor()
  await anne.getByRole('link', { name: 'Brouillon à jeter' }).waitFor({ state: 'hidden' })
  await search.fill('brouillon a') // accents and case do not matter
  await anne.getByRole('link', { name: 'Ordre du jour', exact: true }).waitFor({ state: 'hidden' })
  await anne.getByRole('link', { name: 'Brouillon à jeter' }).waitFor()
  await search.fill('')
  await anne.getByRole('link', { name: 'Ordre du jour', exact: true }).waitFor()

  step('anne renames a document')
  await anne.getByRole('button', { name: 'Renommer « Brouillon à jeter »' }).click()
  const renameDialog = anne.getByRole('dialog', { name: 'Renommer « Brouillon à jeter »' })
  await renameDialog.getByLabel('Nouveau titre').fill('Note interne')
  await renameDialog.getByLabel('Nouveau titre').press('Enter')
  await anne.getByRole('link', { name: 'Note interne' }).waitFor()
  if ((await anneApi.send('GET', `/api/documents/${draft.id}`)).title !== 'Note interne') throw new Error('the rename did not reach the server')

  step('anne shares it: changes bruno\'s role, removes him, invites a partner')
  await anne.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: args.url })
  const shareButton = anne.getByRole('button', { name: 'Partager « Note interne »' })
  await shareButton.click()
  const share = anne.getByRole('dialog', { name: 'Partager « Note interne »' })
  const brunoRole = share.getByRole('combobox', { name: 'Rôle de Bruno Petit' })
  await brunoRole.waitFor()
  if (await brunoRole.inputValue() !== 'commenter') throw new Error(`bruno's role shows as ${await brunoRole.inputValue()}`)
  await brunoRole.selectOption('reader')
  await share.getByRole('status').filter({ hasText: 'Bruno Petit : rôle « lecture ».' }).waitFor()
  const draftMembers = await anneApi.send('GET', `/api/documents/${draft.id}/members`)
  if (draftMembers.length !== 1 || draftMembers[0].role !== 'reader') throw new Error(`members: ${JSON.stringify(draftMembers)}`)
  await share.getByLabel('Adresse e-mail du partenaire').fill('denis.moreau@cabinet.example')
  await share.getByLabel('Rôle', { exact: true }).selectOption('commenter')
  await share.getByRole('button', { name: 'Créer l’invitation' }).click()
  const shareLink = await share.locator('.invitation-result input').inputValue()
  if (!new URL(shareLink).searchParams.get('invitation')) throw new Error(`invitation link ${shareLink}`)
  await share.getByRole('button', { name: 'Copier le lien' }).click()
  await share.getByText('Lien copié.').waitFor()
  if (await anne.evaluate(() => navigator.clipboard.readText()) !== shareLink) throw new Error('the link was not copied')
  await shoot(anne, 'sharing-dialog')
  await audit(anne, 'sharing dialog')
  await anne.emulateMedia({ colorScheme: 'dark' })
  await audit(anne, 'sharing dialog, dark')
  await anne.emulateMedia({ colorScheme: 'light' })
  await share.getByRole('button', { name: 'Retirer l’accès de Bruno Petit' }).click()
  await share.getByText('Personne n’a d’accès propre à ce document.').waitFor()
  if ((await anneApi.send('GET', `/api/documents/${draft.id}/members`)).length !== 0) throw new Error('bruno was not removed')
  await anne.keyboard.press('Escape')
  await share.waitFor({ state: 'detached' })
  if (!(await shareButton.evaluate((button) => button === document.activeElement))) throw new Error('focus did not come back to "Partager"')
  await shoot(anne, 'document-list')
  await audit(anne, 'document list with actions')

  step('anne deletes it, after a confirmation')
  const deleteButton = anne.getByRole('button', { name: 'Supprimer « Note interne »' })
  await deleteButton.click()
  const confirmDelete = anne.getByRole('dialog', { name: 'Supprimer « Note interne » ?' })
  await confirmDelete.getByRole('button', { name: 'Annuler' }).click()
  await confirmDelete.waitFor({ state: 'detached' })
  await anne.getByRole('link', { name: 'Note interne' }).waitFor()
  await deleteButton.click()
  await confirmDelete.getByRole('button', { name: 'Supprimer définitivement' }).click()
  await anne.getByRole('link', { name: 'Note interne' }).waitFor({ state: 'detached' })
  const gone = await anne.request.get(`${args.url}/api/documents/${draft.id}`)
  if (gone.status() !== 404) throw new Error(`the deleted document answers ${gone.status()}`)
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
  // An editor renames, but neither shares nor deletes.
  await brunoHome.getByRole('button', { name: 'Renommer « Ordre du jour »' }).waitFor()
  if (await brunoHome.getByRole('button', { name: /^(Supprimer|Partager) / }).count() !== 0) throw new Error('an editor may delete or share')
  await brunoHome.getByRole('link', { name: /^Messages.*dont 1 mention/ }).click()
  await brunoHome.getByRole('link', { name: /^# Bureau.*\(1 non lu, dont 1 mention\)/ }).click()
  await brunoHome.locator('#conversation-pane li.chat-message[data-seq]', { hasText: 'Réunion jeudi' }).waitFor()
  await brunoHome.waitForFunction(() => document.querySelector('#conversation-lists [aria-current="page"] .badge')?.hidden === true, null, { timeout })

  step('bruno signs out in another tab')
  await brunoHome.getByRole('button', { name: 'Se déconnecter' }).click()
  await brunoHome.getByRole('heading', { name: 'Connexion' }).waitFor()
  await bruno.getByRole('heading', { name: 'Connexion' }).waitFor()

  step('the sign-in form in English, then in French again')
  await switchLanguage(brunoHome, 'fr', 'en')
  await brunoHome.getByRole('heading', { name: 'Sign in' }).waitFor()
  await brunoHome.getByLabel('E-mail address', { exact: true }).waitFor()
  await brunoHome.getByLabel('Password', { exact: true }).waitFor()
  await brunoHome.getByRole('button', { name: 'Sign in', exact: true }).waitFor()
  await brunoHome.getByRole('link', { name: 'Sign in with ProConnect / OpenID Connect' }).waitFor()
  if (await brunoHome.locator('.or').textContent() !== 'or') throw new Error('the sign-in form still says « ou »')
  const signInLeftovers = await leftoverFrench(brunoHome, ['Connexion', 'Adresse e-mail', 'Mot de passe', 'Se connecter', 'Langue', 'Aller au contenu'])
  if (signInLeftovers.length > 0) throw new Error(`French left on the English sign-in form: ${signInLeftovers.join(', ')}`)
  await switchLanguage(brunoHome, 'en', 'fr')
  await brunoHome.getByRole('heading', { name: 'Connexion' }).waitFor()

  step('anne switches the interface to English')
  const frenchWording = await staticWording(anne)
  await switchLanguage(anne, 'fr', 'en')
  const englishChat = anne.locator('#conversation-pane')
  await englishChat.locator('.chat[data-live="true"]').waitFor()
  await englishChat.getByLabel('Your message').waitFor()
  await englishChat.getByRole('button', { name: 'Attach a file' }).waitFor()
  await englishChat.locator('li.chat-message[data-seq]', { hasText: 'Réunion jeudi' }).getByRole('button', { name: 'Reply', exact: true }).waitFor()
  // The page's fixed text: the header, the Messages view's forms, and the other views' too.
  await anne.getByRole('heading', { name: 'Messages', level: 2 }).waitFor()
  await anne.getByRole('button', { name: 'Sign out' }).waitFor()
  await anne.getByRole('link', { name: '← All documents' }).waitFor()
  await anne.getByRole('navigation', { name: 'Conversations' }).getByRole('heading', { name: 'Channels', level: 3 }).waitFor()
  await anne.getByText('New channel', { exact: true }).waitFor()
  await anne.getByText('New direct conversation', { exact: true }).waitFor()
  const englishWording = await staticWording(anne)
  const untranslated = Object.keys(frenchWording).filter((key) => !SAME_IN_BOTH.has(key) && englishWording[key] === frenchWording[key])
  if (untranslated.length > 0) throw new Error(`the page's fixed text stays French in English: ${untranslated.join(', ')}`)
  const blank = Object.keys(englishWording).filter((key) => !englishWording[key])
  if (blank.length > 0) throw new Error(`the page's fixed text is blank in English: ${blank.join(', ')}`)
  if (englishWording['toolbar.label'] !== 'Formatting') throw new Error('the toolbar is not named in English')
  const messagesLeftovers = await leftoverFrench(anne, ['Se déconnecter', 'Tous les documents', 'Nouveau canal',
    'Nouvelle conversation directe', 'Canaux', 'Conversations directes', 'Discussions de documents', 'Langue', 'Envoyer'])
  if (messagesLeftovers.length > 0) throw new Error(`French left on the English Messages view: ${messagesLeftovers.join(', ')}`)
  await switchLanguage(anne, 'en', 'fr')
  await anne.locator('#conversation-pane').getByLabel('Votre message').waitFor()
  await anne.getByRole('button', { name: 'Se déconnecter' }).waitFor()

  return { text: anneText, offline_states: offlineStates, offline_edit_delivered_after_ms: deliveredAfterMs }
}

// ---- Version history and validation ------------------------------------------------------------
// Bruno (editor) starts meeting minutes from the template, fills an action item, writes, names a
// version, writes more, compares the named version with the current one (an <ins> with the new
// text), sees who changed what, opens the version read-only, then submits the document for
// validation: his editor turns read-only. Valérie (validator) sees the open action on her home
// screen, opens the document and approves with a comment; within seconds Bruno's badge says
// "Validé", the seal shows, and he can type again. Valérie publishes; Bruno sees "Publié".
async function historyAndValidation() {
  const anne = await newPage()
  step('anne signs in and sets up the workspace')
  await signIn(anne, people.anne)
  const anneApi = await apiAs(anne)
  const [organisation] = await anneApi.send('GET', '/api/organisations')
  const workspace = await anneApi.send('POST', '/api/workspaces', { organisation_id: organisation.id, name: 'Urbanisme' })
  await anneApi.send('PUT', `/api/workspaces/${workspace.id}/members/${people.bruno.id}`, { role: 'editor' })
  await anneApi.send('PUT', `/api/workspaces/${workspace.id}/members/${people.valerie.id}`, { role: 'validator' })

  step('bruno creates meeting minutes from the template')
  const bruno = await newPage()
  await signIn(bruno, people.bruno)
  const section = bruno.getByRole('region', { name: /Urbanisme/ })
  await section.getByLabel('Nouveau document').fill('Conseil du 12 mars')
  await section.getByLabel('Nouveau compte rendu (modèle de réunion)').check()
  await section.getByRole('button', { name: 'Créer le document' }).click()
  await bruno.waitForURL(/\?doc=/)
  await connected(bruno)
  const documentId = new URL(bruno.url()).searchParams.get('doc')
  await bruno.waitForFunction(() => [...document.querySelectorAll('#editor .ProseMirror h2')].map((h) => h.textContent).join('|') ===
    'Date|Participants|Ordre du jour|Décisions|Actions', null, { timeout })
  if (new URL(bruno.url()).searchParams.has('modele')) throw new Error('the template parameter stayed in the address')

  step('bruno fills the action item')
  const action = bruno.locator(`${EDITOR} .action-item`)
  await action.waitFor()
  await action.getByLabel('Responsable').fill('Service urbanisme')
  await action.getByLabel('Échéance').fill('2030-01-15')
  await action.locator('.action-text').click()
  await bruno.keyboard.type('Envoyer le plan au préfet')
  const checkbox = action.getByRole('checkbox', { name: 'Action à faire : Envoyer le plan au préfet' })
  await checkbox.waitFor()

  step('bruno writes the agenda')
  await bruno.locator(`${EDITOR} ol li p`).first().click()
  await bruno.keyboard.type('Budget primitif.')
  const brunoApi = await apiAs(bruno)
  // The server has the text once it shows in the document's content.
  const serverHas = async (text) => {
    const deadline = Date.now() + timeout
    for (;;) {
      const { content } = await brunoApi.send('GET', `/api/documents/${documentId}/content`)
      if (JSON.stringify(content).includes(text)) return content
      if (Date.now() > deadline) throw new Error(`the server never had ${text}`)
      await bruno.waitForTimeout(100)
    }
  }
  const content = await serverHas('Budget primitif.')
  const stored = JSON.stringify(content.blocks.find((block) => block.type === 'action'))
  for (const part of ['"assignee":"Service urbanisme"', '"due":"2030-01-15"', '"status":"open"', 'Envoyer le plan au préfet']) {
    if (!stored.includes(part)) throw new Error(`the action item is stored as ${stored}`)
  }

  step('bruno names a version')
  await bruno.getByRole('button', { name: 'Historique' }).click()
  const history = bruno.locator('#history-panel')
  await history.getByRole('heading', { name: 'Historique', level: 2 }).waitFor()
  await history.getByLabel('Nom de la version').fill('Avant relecture')
  await history.getByRole('button', { name: 'Nommer une version' }).click()
  const named = history.locator('li.version', { hasText: 'Avant relecture' })
  await named.waitFor()
  const namedNumber = Number(await named.getAttribute('data-number'))
  await history.getByRole('status').filter({ hasText: '« Avant relecture » enregistrée' }).waitFor()

  step('bruno writes more and compares')
  await bruno.locator(`${EDITOR} ol li p`).first().click()
  await bruno.keyboard.press('End')
  await bruno.keyboard.type(' Vote à main levée.')
  await serverHas('Vote à main levée.')
  await history.getByLabel('Version de départ').selectOption(String(namedNumber))
  await history.getByLabel('Comparée à').selectOption('live')
  await history.getByRole('button', { name: 'Comparer', exact: true }).click()
  const detail = history.locator('.history-detail')
  await detail.getByRole('heading', { name: /^Comparaison : Version \d+ « Avant relecture » → Version actuelle$/ }).waitFor()
  const inserted = detail.locator('ins', { hasText: 'Vote à main levée.' })
  await inserted.waitFor()
  const insertedText = await inserted.textContent()
  if (!insertedText.startsWith('Ajout : ')) throw new Error(`the insertion reads ${insertedText}`)
  const summary = await detail.locator('.diff-summary').textContent()
  if (!/^\d+ caractères ajoutés, 0 caractère supprimé, 1 paragraphe modifié\.$/.test(summary)) throw new Error(`summary: ${summary}`)
  if (await detail.locator('del').count() !== 0) throw new Error('a deletion was shown')
  await detail.scrollIntoViewIfNeeded()
  await shoot(bruno, 'history-comparison')
  await audit(bruno, 'history comparison')

  step('bruno sees who changed what, and opens the named version')
  await named.getByRole('button', { name: `Qui a changé quoi dans la version ${namedNumber}` }).click()
  await detail.getByRole('heading', { name: `Qui a changé quoi — version ${namedNumber}` }).waitFor()
  await detail.locator('.change-authors li', { hasText: 'Bruno Petit' }).waitFor()
  await named.getByRole('button', { name: `Ouvrir la version ${namedNumber}` }).click()
  await detail.getByRole('heading', { name: `Version ${namedNumber} — Avant relecture` }).waitFor()
  const opened = await detail.locator('.version-content').textContent()
  if (!opened.includes('Budget primitif.') || opened.includes('Vote à main levée.')) throw new Error(`the version reads ${opened}`)
  const openedAction = await detail.locator('.action-view').textContent()
  if (!openedAction.includes('Envoyer le plan au préfet') || !openedAction.includes('Service urbanisme') || !openedAction.includes('15 janvier 2030')) {
    throw new Error(`the version's action reads ${openedAction}`)
  }
  await detail.locator('details.version-export summary').click()
  const exportHref = await detail.getByRole('link', { name: `Exporter la version ${namedNumber} en ODT` }).getAttribute('href')
  const exported = await bruno.request.get(`${args.url}${exportHref}`)
  if (!exported.ok() || !(exported.headers()['content-disposition'] ?? '').includes('.odt')) throw new Error(`ODT export: ${exported.status()}`)

  step('bruno submits for validation and his editor turns read-only')
  await bruno.getByRole('button', { name: 'Soumettre pour validation' }).click()
  const submitDialog = bruno.getByRole('dialog', { name: 'Soumettre pour validation' })
  await submitDialog.getByLabel('Note pour le validateur (facultative)').fill('Merci de relire avant jeudi.')
  await audit(bruno, 'submission dialog')
  await submitDialog.getByRole('button', { name: 'Soumettre', exact: true }).click()
  await bruno.locator('#review-badge[data-state="submitted"]', { hasText: 'Soumis pour validation' }).waitFor()
  await bruno.getByText('Document soumis pour validation — modifications suspendues').waitFor()
  await bruno.waitForSelector(`${EDITOR}[contenteditable="false"]`, { timeout })
  if (await bruno.locator('#editor-toolbar').isVisible()) throw new Error('the toolbar stays while submitted')
  const frozenText = await editorText(bruno)
  await bruno.locator(EDITOR).click()
  await bruno.keyboard.type('X')
  if (await editorText(bruno) !== frozenText) throw new Error('bruno typed into a submitted document')
  await shoot(bruno, 'submitted-read-only')

  step('valérie sees the open action and approves')
  const valerie = await newPage()
  await signIn(valerie, people.valerie)
  const actions = valerie.getByRole('region', { name: /Urbanisme/ }).getByRole('list', { name: 'Actions en cours' })
  await actions.getByRole('listitem').filter({ hasText: 'Envoyer le plan au préfet' }).filter({ hasText: 'Service urbanisme' }).waitFor()
  await shoot(valerie, 'home-actions')
  await actions.getByRole('link', { name: 'Conseil du 12 mars' }).click()
  await connected(valerie)
  await valerie.locator('#review-badge[data-state="submitted"]').waitFor()
  await valerie.getByText('Merci de relire avant jeudi.').waitFor()
  if (await valerie.locator(EDITOR).getAttribute('contenteditable') !== 'false') throw new Error('the validator can edit a submitted document')
  await valerie.getByRole('button', { name: 'Rejeter' }).waitFor()
  await valerie.getByRole('button', { name: 'Approuver' }).click()
  const approveDialog = valerie.getByRole('dialog', { name: 'Approuver la version soumise' })
  await approveDialog.getByLabel('Commentaire').fill('Conforme à la délibération.')
  const approvedAt = Date.now()
  await approveDialog.getByRole('button', { name: 'Approuver' }).click()
  await valerie.locator('#review-badge[data-state="approved"]').waitFor()

  step('bruno sees the decision and can write again')
  await bruno.locator('#review-badge[data-state="approved"]', { hasText: 'Validé' }).waitFor({ timeout: 10_000 })
  await bruno.waitForSelector(`${EDITOR}[contenteditable="true"]`, { timeout: 10_000 })
  const seenAfterMs = Date.now() - approvedAt
  if (seenAfterMs > 8_000) throw new Error(`bruno saw the approval after ${seenAfterMs} ms`)
  if (await bruno.locator('#frozen-banner').isVisible()) throw new Error('the frozen banner stays after approval')
  const live = await bruno.locator('#review-live').textContent()
  if (live !== 'État du document : Validé.') throw new Error(`announced: ${live}`)
  const seal = bruno.locator('#review-info .seal')
  await seal.filter({ hasText: 'Valérie Roux' }).filter({ hasText: 'Conforme à la délibération.' }).waitFor()
  const sha256 = await seal.locator('code').getAttribute('title')
  if (!/^[0-9a-f]{64}$/.test(sha256 ?? '')) throw new Error(`seal hash: ${sha256}`)
  await history.locator('li.version[data-kind="submitted"] .sealed-badge', { hasText: 'Validée' }).waitFor({ timeout: 10_000 })
  await shoot(bruno, 'validated')
  await bruno.locator(`${EDITOR} ol li p`).first().click()
  await bruno.keyboard.press('End')
  await bruno.keyboard.type(' Adopté.')
  await valerie.waitForFunction(([selector]) => document.querySelector(selector)?.textContent.includes('Vote à main levée. Adopté.'), [EDITOR], { timeout })

  step('valérie publishes; bruno sees it')
  await valerie.getByRole('button', { name: 'Publier la version validée' }).click()
  await valerie.locator('#review-info .publication a').waitFor()
  await bruno.locator('#review-info .publication').waitFor({ timeout: 10_000 })

  return { seen_after_ms: seenAfterMs, compared: insertedText }
}

try {
  const result = args.scenario === 'history' ? await historyAndValidation() : await coEditing()
  if (pageErrors.length > 0) throw new Error(`uncaught errors in the pages: ${pageErrors.join('; ')}`)
  if (axeFailures.length > 0) throw new Error(`axe found ${axeFailures.join('; ')}`)
  console.log(JSON.stringify({ ok: true, ...result, audits }))
} catch (error) {
  // What each person saw when it failed.
  for (const [index, page] of pages.entries()) await shoot(page, `failure-${index + 1}`).catch(() => {})
  console.log(JSON.stringify({ ok: false, error: String(error) }))
  process.exitCode = 1
} finally {
  await browser.close()
}
