// The history panel beside the document: its versions, newest first (older ones a page at a
// time), naming a version, opening one read-only, comparing two (or one with the document as
// it is now), who changed what in a version, restoring one, and exporting one.
import { api, ApiError, type ExportFormat, type Person, type Role, type Version } from './api'
import { renderContent, renderDiff, summaryText } from './content-view'
import { ask } from './dialog'
import { t } from './i18n'
import { formatDateTime, sealView } from './review'
import { $, canEdit, describe, el, notify, personName } from './ui'

const PAGE = 50
const OPEN_KEY = 'relais.historyOpen'
const EXPORTS: [ExportFormat, string][] = [['odt', 'ODT'], ['docx', 'DOCX'], ['html', 'HTML'], ['md', 'Markdown']]

const people = (list: Person[]) => list.map((person) => personName(person.name, person.external)).join(', ')

/** A version's name, or what kind of version it is. */
export const versionName = (version: Version) =>
  version.name?.trim() || (t.history.kind[version.kind] ?? t.history.auto)

const remembered = () => {
  try {
    return localStorage.getItem(OPEN_KEY) === '1'
  } catch {
    return false
  }
}
const remember = (open: boolean) => {
  try {
    localStorage.setItem(OPEN_KEY, open ? '1' : '0')
  } catch {
    // unavailable storage: the panel's state just won't be remembered
  }
}

export interface HistoryPanel {
  /** Reloads the newest versions if the panel has been shown (a new version may exist). */
  refresh: () => void
  /** The document was frozen for review or unfrozen: restoring is refused meanwhile. */
  setFrozen: (frozen: boolean) => void
  close: () => void
}

export function historyPanel(options: { documentId: string, role: Role }): HistoryPanel {
  const { documentId, role } = options
  const toggle = $<HTMLButtonElement>('history-toggle')
  const panel = $('history-panel')
  const layout = $('doc-layout')
  const editable = canEdit(role)
  let versions: Version[] = []
  let nextBefore: number | null = null
  let loaded = false
  let closed = false
  let frozen = false
  let detailOf: (() => Promise<void>) | null = null

  // ---- the panel's parts ------------------------------------------------------------------
  const heading = el('h2', { id: 'history-title', tabindex: '-1' }, t.history.title)
  const statusLine = el('p', { class: 'history-status', role: 'status' })

  const nameInput = el('input', { id: 'history-name', type: 'text', required: '', maxlength: '200', autocomplete: 'off', 'aria-describedby': 'history-name-hint' })
  const nameForm = el('form', { class: 'stack history-name' },
    el('label', { for: nameInput.id }, t.history.nameLabel), nameInput,
    el('p', { id: 'history-name-hint', class: 'hint' }, t.history.nameHint),
    el('button', { type: 'submit' }, t.history.nameSubmit))
  nameForm.hidden = !editable

  const fromSelect = el('select', { id: 'history-from' })
  const toSelect = el('select', { id: 'history-to' })
  const compareForm = el('form', { class: 'stack history-compare', 'aria-labelledby': 'history-compare-title' },
    el('h3', { id: 'history-compare-title' }, t.history.compareTitle),
    el('label', { for: fromSelect.id }, t.history.compareFrom), fromSelect,
    el('label', { for: toSelect.id }, t.history.compareTo), toSelect,
    el('button', { type: 'submit' }, t.history.compareSubmit))

  const detailHeading = el('h3', { id: 'history-detail-title', tabindex: '-1' })
  const detailBody = el('div', { class: 'history-detail-body' })
  const closeDetail = el('button', { type: 'button', class: 'small', 'aria-label': t.history.closeLabel }, t.history.close)
  const detail = el('section', { class: 'history-detail', 'aria-labelledby': detailHeading.id },
    el('div', { class: 'row spread history-detail-head' }, detailHeading, closeDetail), detailBody)
  detail.hidden = true

  const list = el('ol', { class: 'versions', 'aria-labelledby': 'history-list-title' })
  const empty = el('p', { class: 'hint' }, t.history.empty)
  const older = el('button', { type: 'button', class: 'history-older' }, t.history.older)
  older.hidden = true

  const root = el('div', { class: 'history', 'aria-busy': 'false' },
    heading, statusLine, nameForm, compareForm, detail,
    el('h3', { id: 'history-list-title' }, t.history.timeline), empty, list, older)
  panel.replaceChildren(root)

  const say = (message: string) => { statusLine.textContent = message }

  // ---- the timeline ---------------------------------------------------------------------------
  const exportLinks = (version: Version) => el('details', { class: 'version-export' },
    el('summary', {}, t.history.export, el('span', { class: 'visually-hidden' }, ` ${t.history.number(version.number)}`)),
    el('ul', { class: 'export-links' }, ...EXPORTS.map(([format, label]) => el('li', {},
      el('a', {
        href: api.exportUrl(documentId, version.number, format),
        download: '',
        'aria-label': t.history.exportLabel(version.number, label)
      }, label)))))

  const sealLine = (version: Version) => version.seal === null
    ? null
    : el('p', { class: 'version-seal' },
      el('span', { class: 'sealed-badge' }, t.history.sealed), ' ',
      t.history.sealedTitle(personName(version.seal.validator.name, version.seal.validator.external), formatDateTime(version.seal.sealed_at_ms)))

  const entry = (version: Version) => {
    const number = version.number
    const actionButton = (text: string, label: string, run: () => Promise<void>) => {
      const button = el('button', { type: 'button', class: 'small', 'aria-label': label }, text)
      button.addEventListener('click', () => void show(run))
      return button
    }
    const buttons = el('div', { class: 'version-actions' },
      actionButton(t.history.open, t.history.openLabel(number), () => openVersion(number)),
      actionButton(t.history.changes, t.history.changesLabel(number), () => showChanges(number)),
      actionButton(t.history.compareLive, t.history.compareLiveLabel(number), () => compare(number, 'live')))
    if (editable && !frozen) {
      const restore = el('button', { type: 'button', class: 'small', 'aria-label': t.history.restoreLabel(number) }, t.history.restore)
      restore.addEventListener('click', () => void restoreVersion(number))
      buttons.append(restore)
    }
    const meta = el('p', { class: 'version-meta' },
      el('time', { datetime: new Date(version.created_at_ms).toISOString() }, formatDateTime(version.created_at_ms)),
      ' · ',
      version.authors.length > 0 ? t.history.by(people(version.authors)) : t.history.nobody)
    const item = el('li', { class: 'version', 'data-number': String(number), 'data-kind': version.kind },
      el('p', { class: 'version-head' },
        el('span', { class: 'version-number' }, t.history.number(number)), ' ',
        el('strong', { class: 'version-name' }, versionName(version))),
      meta)
    const seal = sealLine(version)
    if (seal !== null) item.append(seal)
    item.append(buttons, exportLinks(version))
    return item
  }

  const option = (value: string, label: string) => el('option', { value }, label)

  const renderList = () => {
    // Redrawn under the keyboard's focus: keep it on the same control.
    const focused = list.contains(document.activeElement) ? document.activeElement?.getAttribute('aria-label') ?? null : null
    list.replaceChildren(...versions.map(entry))
    if (focused !== null) {
      const again = [...list.querySelectorAll<HTMLElement>('[aria-label]')].find((node) => node.getAttribute('aria-label') === focused)
      ;(again ?? heading).focus()
    }
    empty.hidden = versions.length > 0
    older.hidden = nextBefore === null
    compareForm.hidden = versions.length === 0
    // Keep the choices made in the comparison form.
    const from = fromSelect.value
    const to = toSelect.value
    const labels = versions.map((version) => option(String(version.number), `${t.history.number(version.number)} — ${versionName(version)}`))
    fromSelect.replaceChildren(...labels)
    toSelect.replaceChildren(option('live', t.history.current), ...labels.map((node) => node.cloneNode(true)))
    if (versions.some((version) => String(version.number) === from)) fromSelect.value = from
    if (to === 'live' || versions.some((version) => String(version.number) === to)) toSelect.value = to || 'live'
  }

  /** Loads the newest page, keeping older pages already shown. */
  const loadNewest = async () => {
    root.setAttribute('aria-busy', 'true')
    try {
      const page = await api.versions(documentId, null, PAGE)
      if (closed) return
      const oldest = page.versions.at(-1)?.number ?? Infinity
      const kept = loaded ? versions.filter((version) => version.number < oldest) : []
      versions = [...page.versions, ...kept]
      if (!loaded || kept.length === 0) nextBefore = page.next_before
      loaded = true
      renderList()
    } finally {
      root.setAttribute('aria-busy', 'false')
    }
  }

  older.addEventListener('click', () => {
    if (nextBefore === null || older.getAttribute('aria-busy') === 'true') return
    older.setAttribute('aria-busy', 'true')
    const firstNew = versions.length
    api.versions(documentId, nextBefore, PAGE)
      .then((page) => {
        if (closed) return
        const known = new Set(versions.map((version) => version.number))
        versions = [...versions, ...page.versions.filter((version) => !known.has(version.number))]
        nextBefore = page.next_before
        renderList()
        // Focus goes to the first of the versions just shown, not back to the top.
        list.children[firstNew]?.querySelector<HTMLElement>('button')?.focus()
      })
      .catch((error: unknown) => notify(describe(error)))
      .finally(() => older.removeAttribute('aria-busy'))
  })

  // ---- the detail: one version, a comparison, or who changed what -------------------------------
  const show = async (run: () => Promise<void>) => {
    root.setAttribute('aria-busy', 'true')
    try {
      await run()
      detailOf = run
      detail.hidden = false
      detailHeading.focus()
    } catch (error) {
      notify(describe(error))
    } finally {
      root.setAttribute('aria-busy', 'false')
    }
  }
  closeDetail.addEventListener('click', () => {
    detail.hidden = true
    detailOf = null
    detailBody.replaceChildren()
    heading.focus()
  })

  const openVersion = async (number: number) => {
    const { version, content } = await api.version(documentId, number)
    detailHeading.textContent = t.history.versionTitle(version.number, versionName(version))
    const parts: HTMLElement[] = [
      el('p', { class: 'version-meta' },
        el('time', { datetime: new Date(version.created_at_ms).toISOString() }, formatDateTime(version.created_at_ms)),
        ' · ', version.authors.length > 0 ? t.history.by(people(version.authors)) : t.history.nobody),
      el('p', { class: 'hint' }, t.history.readOnlyNote)
    ]
    if (version.seal !== null) parts.push(sealView(version.number, version.seal, 'h4'))
    parts.push(renderContent(content), exportLinks(version))
    detailBody.replaceChildren(...parts)
  }

  const diffWithToggle = (paragraphs: Parameters<typeof renderDiff>[0], onlyChanges: boolean) => {
    const id = `history-only-changes`
    const checkbox = el('input', { id, type: 'checkbox' })
    checkbox.checked = onlyChanges
    let diff = renderDiff(paragraphs, onlyChanges)
    checkbox.addEventListener('change', () => {
      const next = renderDiff(paragraphs, checkbox.checked)
      diff.replaceWith(next)
      diff = next
    })
    return [el('div', { class: 'check' }, checkbox, el('label', { for: id }, t.history.onlyChanges)), diff]
  }

  const compare = async (from: number, to: number | 'live') => {
    const comparison = await api.compare(documentId, from, to)
    const name = (version: Version) => t.history.quoted(t.history.number(version.number), versionName(version))
    detailHeading.textContent = t.history.compareHeading(name(comparison.from), comparison.to === null ? t.history.current : name(comparison.to))
    detailBody.replaceChildren(
      el('p', { class: 'diff-summary' }, summaryText(comparison.summary)),
      ...diffWithToggle(comparison.paragraphs, false))
  }

  const showChanges = async (number: number) => {
    const changes = await api.versionChanges(documentId, number)
    detailHeading.textContent = t.history.changesHeading(number)
    const authors = el('ul', { class: 'change-authors' }, ...changes.authors.map((author) => el('li', {},
      el('strong', {}, author.person === null ? t.history.unknownAuthor(author.client_id) : personName(author.person.name, author.person.external)),
      `${t.common.colon}${t.history.authorInserted(author.inserted_chars)}`,
      ...(author.excerpts.length === 0
        ? []
        : [el('ul', { class: 'excerpts' }, ...author.excerpts.map((excerpt) => el('li', {}, el('q', {}, excerpt))))]))))
    detailBody.replaceChildren(
      el('p', { class: 'version-meta' }, t.history.changesSince(changes.previous)),
      changes.authors.length === 0 ? el('p', { class: 'hint' }, t.history.noAuthors) : authors,
      el('p', { class: 'hint' }, t.history.deletionsNote),
      el('p', { class: 'diff-summary' }, summaryText(changes.summary)),
      ...diffWithToggle(changes.paragraphs, true))
  }

  compareForm.addEventListener('submit', (event) => {
    event.preventDefault()
    const from = Number(fromSelect.value)
    const to = toSelect.value === 'live' ? 'live' : Number(toSelect.value)
    if (!Number.isInteger(from) || (to !== 'live' && !Number.isInteger(to))) return
    void show(() => compare(from, to))
  })

  const restoreVersion = async (number: number) => {
    if (frozen) {
      notify(t.history.restoreFrozen)
      return
    }
    const confirmed = await ask({
      title: t.history.restoreTitle(number),
      text: t.history.restoreText,
      confirm: t.history.restoreConfirm,
      cancel: t.history.cancel,
      danger: true
    })
    if (confirmed === null) return
    try {
      const restored = await api.restoreVersion(documentId, number)
      say(t.history.restored(restored.restored_from.number, restored.version.number))
      await loadNewest()
    } catch (error) {
      notify(error instanceof ApiError && error.status === 409 ? t.history.restoreFrozen : describe(error))
    }
  }

  nameForm.addEventListener('submit', (event) => {
    event.preventDefault()
    const name = nameInput.value.trim()
    if (name === '' || nameForm.getAttribute('aria-busy') === 'true') return
    nameForm.setAttribute('aria-busy', 'true')
    api.nameVersion(documentId, name)
      .then(async (version) => {
        nameInput.value = ''
        say(t.history.named(versionName(version), version.number))
        await loadNewest()
      })
      .catch((error: unknown) => notify(describe(error)))
      .finally(() => nameForm.removeAttribute('aria-busy'))
  })

  // ---- showing and hiding ------------------------------------------------------------------------
  const setOpen = (open: boolean, moveFocus: boolean) => {
    panel.hidden = !open
    toggle.setAttribute('aria-expanded', String(open))
    layout.classList.toggle('history-open', open)
    if (!open) return
    if (moveFocus) heading.focus()
    loadNewest().catch((error: unknown) => {
      if (!closed) say(`${t.history.unavailable} ${describe(error)}`)
    })
  }
  const onToggle = () => {
    const open = panel.hidden !== false
    remember(open)
    setOpen(open, true)
  }
  toggle.addEventListener('click', onToggle)
  toggle.hidden = false
  setOpen(remembered(), false)

  return {
    refresh: () => {
      if (!loaded || closed) return
      loadNewest().catch(() => {})
      // An open comparison with the current version is out of date too; others never change.
      if (detailOf !== null && !detail.hidden && detailHeading.textContent?.includes(t.history.current)) {
        detailOf().catch(() => {})
      }
    },
    setFrozen: (next) => {
      if (frozen === next) return
      frozen = next
      // Restoring is refused while the document is under review: the buttons go meanwhile.
      if (loaded) renderList()
    },
    close: () => {
      closed = true
      toggle.removeEventListener('click', onToggle)
      panel.hidden = true
      panel.replaceChildren()
      toggle.hidden = true
      toggle.setAttribute('aria-expanded', 'false')
      layout.classList.remove('history-open')
    }
  }
}
