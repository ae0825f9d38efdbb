// Read-only renderings for the history: a version's content (the server's block tree) and a
// comparison's paragraphs. Everything is built with DOM calls, text through `textContent`;
// links keep only http, https and mailto addresses.
import type { Block, DiffSummary, Inline, ListItem, ParagraphDiff } from './api'
import { locale, t } from './i18n'
import { el } from './ui'

/** Nesting beyond this is shown flat (the server already bounds it; this guards the stack). */
const MAX_DEPTH = 40

const DUE = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeZone: 'UTC' })

/** A `YYYY-MM-DD` date in words, or the text as is when it is not one. */
export function formatDay(day: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return day
  const date = new Date(`${day}T00:00:00Z`)
  return Number.isNaN(date.getTime()) ? day : DUE.format(date)
}

/** The address if it is safe to follow from the page (http, https, mailto), else null. */
export function safeHref(href: string | null | undefined): string | null {
  if (typeof href !== 'string' || href.trim() === '') return null
  try {
    const url = new URL(href.trim(), location.href)
    return ['http:', 'https:', 'mailto:'].includes(url.protocol) ? url.href : null
  } catch {
    return null
  }
}

function inlines(content: Inline[] | undefined): Node[] {
  const nodes: Node[] = []
  for (const inline of content ?? []) {
    if (inline.type === 'break') {
      nodes.push(el('br'))
      continue
    }
    if (inline.type !== 'text' || typeof inline.text !== 'string') continue
    let node: Node = document.createTextNode(inline.text)
    const marks = inline.marks ?? {}
    if (marks.code) node = el('code', {}, node)
    if (marks.bold) node = el('strong', {}, node)
    if (marks.italic) node = el('em', {}, node)
    if (marks.underline) node = el('u', {}, node)
    if (marks.strike) node = el('s', {}, node)
    if (marks.link) {
      const href = safeHref(marks.link)
      node = href === null
        ? el('span', { class: 'unsafe-link', title: t.content.unsafeLink }, node)
        : el('a', { href, rel: 'noopener noreferrer nofollow', target: '_blank' }, node)
    }
    nodes.push(node)
  }
  return nodes
}

const cellSpan = (value: unknown) =>
  typeof value === 'number' && Number.isInteger(value) && value > 1 && value <= 1000 ? String(value) : undefined

function listItems(items: ListItem[] | undefined, depth: number, task: boolean): HTMLLIElement[] {
  return (items ?? []).map((item) => {
    const li = el('li')
    if (task) {
      const checked = item.checked === true
      const box = el('input', { type: 'checkbox', disabled: '', 'aria-label': checked ? t.content.done : t.content.todo })
      box.checked = checked
      li.classList.add('task')
      li.append(box, el('div', {}, ...blocks(item.blocks, depth + 1)))
    } else {
      li.append(...blocks(item.blocks, depth + 1))
    }
    return li
  })
}

/** Headings of a version sit under the panel's own: level 1 becomes h4, and so on. */
const headingTag = (level: number) => (level <= 1 ? 'h4' : level === 2 ? 'h5' : 'h6')

function block(node: Block, depth: number): HTMLElement | null {
  switch (node.type) {
    case 'heading':
      return el(headingTag(node.level), { class: `version-h${Math.min(Math.max(node.level, 1), 6)}` }, ...inlines(node.content))
    case 'paragraph':
      return el('p', {}, ...inlines(node.content))
    case 'bulletList':
      return el('ul', {}, ...listItems(node.items, depth, false))
    case 'orderedList': {
      const list = el('ol', {}, ...listItems(node.items, depth, false))
      if (Number.isInteger(node.start) && node.start !== 1) list.start = node.start
      return list
    }
    case 'taskList':
      return el('ul', { class: 'task-list' }, ...listItems(node.items, depth, true))
    case 'blockquote':
      return el('blockquote', {}, ...blocks(node.blocks, depth + 1))
    case 'codeBlock':
      return el('pre', {}, el('code', {}, typeof node.text === 'string' ? node.text : ''))
    case 'rule':
      return el('hr')
    case 'table': {
      const table = el('table')
      const body = el('tbody')
      for (const row of node.rows ?? []) {
        const tr = el('tr')
        for (const cell of row.cells ?? []) {
          tr.append(el(cell.header ? 'th' : 'td', { colspan: cellSpan(cell.colspan), rowspan: cellSpan(cell.rowspan) },
            ...blocks(cell.blocks, depth + 1)))
        }
        body.append(tr)
      }
      table.append(body)
      return table
    }
    case 'action': {
      const done = node.status === 'done'
      const box = el('input', { type: 'checkbox', disabled: '', 'aria-label': done ? t.content.actionDone : t.content.actionOpen })
      box.checked = done
      const details: string[] = [node.assignee ? t.content.assignee(node.assignee) : t.content.noAssignee]
      if (node.due) details.push(t.content.due(formatDay(node.due)))
      return el('div', { class: 'action-view', 'data-status': done ? 'done' : 'open' },
        box,
        el('div', {}, el('p', { class: 'action-view-text' }, ...inlines(node.content)),
          el('p', { class: 'action-view-details' }, details.join(' · '))))
    }
    default:
      return null
  }
}

function blocks(list: Block[] | undefined, depth: number): HTMLElement[] {
  if (!Array.isArray(list)) return []
  if (depth > MAX_DEPTH) {
    // Far too deep: the text, flat.
    return [el('p', {}, list.map(plainText).join(' '))]
  }
  return list.map((b) => block(b, depth)).filter((e): e is HTMLElement => e !== null)
}

function plainText(node: Block): string {
  const texts: string[] = []
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit)
    else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>
      if (typeof record['text'] === 'string') texts.push(record['text'])
      for (const key of ['content', 'blocks', 'items', 'rows', 'cells']) visit(record[key])
    }
  }
  visit(node)
  return texts.join(' ')
}

/** A version's content, read-only. */
export function renderContent(content: { blocks: Block[] } | null | undefined): HTMLElement {
  const container = el('div', { class: 'version-content' })
  const rendered = blocks(content?.blocks, 0)
  container.append(...(rendered.length === 0 ? [el('p', { class: 'hint' }, t.content.empty)] : rendered))
  return container
}

const CHANGE_LABELS: Partial<Record<ParagraphDiff['change'], string>> = {
  inserted: t.history.paragraphInserted,
  deleted: t.history.paragraphDeleted,
  modified: t.history.paragraphModified
}

/** A comparison's summary in one sentence. */
export const summaryText = (summary: DiffSummary) =>
  summary.inserted_chars === 0 && summary.deleted_chars === 0 && summary.paragraphs_changed === 0
    ? t.history.noDifference
    : t.history.summary(summary.inserted_chars, summary.deleted_chars, summary.paragraphs_changed)

/**
 * A comparison's paragraphs, insertions in `<ins>` and deletions in `<del>`, each with a
 * visually hidden word saying which it is (screen readers do not announce the elements).
 */
export function renderDiff(paragraphs: ParagraphDiff[], onlyChanges: boolean): HTMLElement {
  const list = el('div', { class: 'diff' })
  for (const paragraph of paragraphs) {
    if (onlyChanges && paragraph.change === 'equal') continue
    const kind = /^[a-zA-Z0-9]+$/.test(paragraph.kind) ? paragraph.kind : 'paragraph'
    const row = el('div', { class: `diff-paragraph diff-${kind}`, 'data-change': paragraph.change })
    const label = CHANGE_LABELS[paragraph.change]
    if (label !== undefined) row.append(el('span', { class: 'visually-hidden' }, `${label}${t.common.colon}`))
    if (kind === 'rule') row.append(el('span', { 'aria-hidden': 'true' }, '———'))
    for (const segment of paragraph.segments ?? []) {
      if (typeof segment.text !== 'string') continue
      if (segment.op === 'insert') {
        row.append(el('ins', {}, el('span', { class: 'visually-hidden' }, t.history.insertedPrefix), segment.text))
      } else if (segment.op === 'delete') {
        row.append(el('del', {}, el('span', { class: 'visually-hidden' }, t.history.deletedPrefix), segment.text))
      } else {
        row.append(segment.text)
      }
    }
    list.append(row)
  }
  if (list.childElementCount === 0) list.append(el('p', { class: 'hint' }, t.history.noDifference))
  return list
}
