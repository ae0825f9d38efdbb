// Action items of meeting minutes: the block node `actionItem` (what is to be done, as inline
// text) with three attributes kept as plain strings in the Yjs XmlElement, the form the server
// reads them in: `assignee` (free text), `due` (`YYYY-MM-DD` or empty) and `status` (`open` or
// `done`). In the editor an item is a row: a checkbox for the status, the editable text, and
// fields for the assignee and the due date. The meeting minutes template lives here too.
import { type Editor, mergeAttributes, Node } from '@tiptap/core'
import type { Node as ProseMirrorNode, NodeType } from '@tiptap/pm/model'
import { TextSelection } from '@tiptap/pm/state'
import { locale, t } from './i18n'
import { el } from './ui'

export const ACTION_ITEM = 'actionItem'

const isDate = (value: string) => /^\d{4}-\d{2}-\d{2}$/.test(value)
const asString = (value: unknown) => (typeof value === 'string' ? value : value == null ? '' : String(value))
const statusOf = (node: ProseMirrorNode) => (asString(node.attrs['status']) === 'done' ? 'done' : 'open')

/** Attributes of a new, empty action item. */
const FRESH = { assignee: '', due: '', status: 'open' }

let nextId = 0

export const ActionItem = Node.create({
  name: ACTION_ITEM,
  group: 'block',
  content: 'text*',
  defining: true,

  addAttributes() {
    return {
      assignee: {
        default: '',
        parseHTML: (element) => element.getAttribute('data-assignee') ?? '',
        renderHTML: (attributes) => ({ 'data-assignee': asString(attributes['assignee']) })
      },
      due: {
        default: '',
        parseHTML: (element) => {
          const due = element.getAttribute('data-due') ?? ''
          return isDate(due) ? due : ''
        },
        renderHTML: (attributes) => ({ 'data-due': asString(attributes['due']) })
      },
      status: {
        default: 'open',
        parseHTML: (element) => (element.getAttribute('data-status') === 'done' ? 'done' : 'open'),
        renderHTML: (attributes) => ({ 'data-status': asString(attributes['status']) === 'done' ? 'done' : 'open' })
      }
    }
  },

  parseHTML() {
    return [{ tag: 'div[data-type="action-item"]' }]
  },

  renderHTML({ HTMLAttributes }) {
    return ['div', mergeAttributes(HTMLAttributes, { 'data-type': 'action-item' }), 0]
  },

  addKeyboardShortcuts() {
    const inAction = () => {
      const { selection } = this.editor.state
      return selection.empty && selection.$from.parent.type.name === ACTION_ITEM ? selection.$from : null
    }
    return {
      // At the end of an action, Enter starts the next one; in an empty one, it leaves the list
      // of actions for a plain paragraph.
      Enter: () => {
        const $from = inAction()
        if ($from === null) return false
        if ($from.parent.content.size === 0) return this.editor.commands.setNode('paragraph')
        if ($from.parentOffset !== $from.parent.content.size) return false
        const { tr } = this.editor.state
        const after = $from.after()
        tr.insert(after, this.type.create(FRESH))
        tr.setSelection(TextSelection.create(tr.doc, after + 1)).scrollIntoView()
        this.editor.view.dispatch(tr)
        return true
      },
      // At the start of an action, Backspace turns it back into a paragraph, keeping the text.
      Backspace: () => {
        const $from = inAction()
        if ($from === null || $from.parentOffset !== 0) return false
        return this.editor.commands.setNode('paragraph')
      },
      // From the text, Tab goes to the item's own checkbox and fields (then on out of them),
      // rather than to the first field of the document.
      Tab: () => {
        const $from = inAction()
        if ($from === null) return false
        const dom = this.editor.view.nodeDOM($from.before())
        const target = dom instanceof HTMLElement
          ? dom.querySelector<HTMLInputElement>('.action-status:not(:disabled), .action-assignee')
          : null
        if (target === null) return false
        target.focus()
        return true
      },
      // Marks the action done, or open again, from the keyboard.
      'Mod-Enter': () => {
        const $from = inAction()
        if ($from === null) return false
        const position = $from.before()
        const done = statusOf($from.parent) === 'done'
        this.editor.view.dispatch(this.editor.state.tr.setNodeAttribute(position, 'status', done ? 'open' : 'done'))
        return true
      }
    }
  },

  addNodeView() {
    return ({ node: initial, getPos, editor }) => {
      let node = initial
      const id = `action-${++nextId}`
      const checkbox = el('input', { type: 'checkbox', class: 'action-status' })
      const assignee = el('input', { type: 'text', id: `${id}-assignee`, class: 'action-assignee', maxlength: '200', autocomplete: 'off' })
      const due = el('input', { type: 'date', id: `${id}-due`, class: 'action-due' })
      const text = el('div', { class: 'action-text', 'data-placeholder': t.minutes.placeholder })
      const fields = el('span', { class: 'action-fields', contenteditable: 'false' },
        el('label', { for: assignee.id }, t.minutes.assignee), assignee,
        el('label', { for: due.id }, t.minutes.due), due)
      const check = el('span', { class: 'action-check', contenteditable: 'false' }, checkbox)
      const dom = el('div', { class: 'action-item', 'data-type': 'action-item' },
        check, el('div', { class: 'action-body' }, text, fields))

      // Writes one attribute of this item, unless it already has that value.
      const set = (name: 'assignee' | 'due' | 'status', value: string) => {
        const position = typeof getPos === 'function' ? getPos() : undefined
        if (typeof position !== 'number' || !editor.isEditable) return
        const current = editor.state.doc.nodeAt(position)
        if (current?.type.name !== ACTION_ITEM || asString(current.attrs[name]) === value) return
        editor.view.dispatch(editor.state.tr.setNodeAttribute(position, name, value))
      }
      checkbox.addEventListener('change', () => {
        if (!editor.isEditable) {
          checkbox.checked = statusOf(node) === 'done'
          return
        }
        set('status', checkbox.checked ? 'done' : 'open')
      })
      assignee.addEventListener('input', () => set('assignee', assignee.value.slice(0, 200)))
      // Escape from the checkbox or a field goes back to the end of the item's text.
      const backToText = (event: KeyboardEvent) => {
        if (event.key !== 'Escape') return
        const position = typeof getPos === 'function' ? getPos() : undefined
        if (typeof position !== 'number') return
        event.preventDefault()
        editor.chain().focus().setTextSelection(position + 1 + node.content.size).run()
      }
      for (const control of [checkbox, assignee, due]) control.addEventListener('keydown', backToText)
      due.addEventListener('change', () => set('due', isDate(due.value) ? due.value : ''))

      const show = () => {
        const done = statusOf(node) === 'done'
        dom.dataset['status'] = done ? 'done' : 'open'
        checkbox.checked = done
        const label = t.minutes.checkboxLabel(node.textContent.trim().slice(0, 120), done)
        checkbox.setAttribute('aria-label', label)
        checkbox.title = label
        const assigneeValue = asString(node.attrs['assignee'])
        if (assignee.value !== assigneeValue) assignee.value = assigneeValue
        const dueValue = asString(node.attrs['due'])
        const shownDue = isDate(dueValue) ? dueValue : ''
        if (due.value !== shownDue) due.value = shownDue
      }
      const showEditable = () => {
        const readOnly = !editor.isEditable
        checkbox.disabled = readOnly
        assignee.readOnly = readOnly
        due.readOnly = readOnly
      }
      show()
      showEditable()
      // `setEditable` announces itself with an update.
      editor.on('update', showEditable)

      return {
        dom,
        contentDOM: text,
        update: (updated) => {
          if (updated.type !== initial.type) return false
          node = updated
          show()
          return true
        },
        // The checkbox and the fields handle their own events; ProseMirror handles the text.
        stopEvent: (event) => event.target instanceof globalThis.Node && !text.contains(event.target),
        ignoreMutation: (mutation) => !text.contains(mutation.target),
        destroy: () => { editor.off('update', showEditable) }
      }
    }
  }
})

/**
 * Adds an empty action item: in place of the empty paragraph the caret is in, or after the
 * block the caret is in (climbing out of containers that cannot hold one).
 */
export function addActionItem(editor: Editor): boolean {
  const { state } = editor
  const type = state.schema.nodes[ACTION_ITEM] as NodeType | undefined
  if (type === undefined || !editor.isEditable) return false
  const { $from } = state.selection
  const tr = state.tr
  const parent = $from.parent
  if (parent.type.name === 'paragraph' && parent.content.size === 0 && $from.depth >= 1) {
    const container = $from.node($from.depth - 1)
    const index = $from.index($from.depth - 1)
    if (container.canReplaceWith(index, index + 1, type)) {
      tr.setBlockType($from.pos, $from.pos, type, FRESH)
      editor.view.dispatch(tr.scrollIntoView())
      editor.commands.focus()
      return true
    }
  }
  for (let depth = $from.depth; depth >= 1; depth--) {
    const container = $from.node(depth - 1)
    const index = $from.indexAfter(depth - 1)
    if (!container.canReplaceWith(index, index, type)) continue
    const position = $from.after(depth)
    tr.insert(position, type.create(FRESH))
    tr.setSelection(TextSelection.create(tr.doc, position + 1))
    editor.view.dispatch(tr.scrollIntoView())
    editor.commands.focus()
    return true
  }
  return false
}

const LONG_DATE = new Intl.DateTimeFormat(locale, { dateStyle: 'full' })

/** The meeting minutes template: Date, Participants, Ordre du jour, Décisions, Actions. */
function minutesTemplate(): Record<string, unknown> {
  const heading = (text: string) => ({ type: 'heading', attrs: { level: 2 }, content: [{ type: 'text', text }] })
  const emptyItem = { type: 'listItem', content: [{ type: 'paragraph' }] }
  const [date, participants, agenda, decisions, actions] = t.minutes.headings
  return {
    type: 'doc',
    content: [
      heading(date),
      { type: 'paragraph', content: [{ type: 'text', text: LONG_DATE.format(new Date()) }] },
      heading(participants),
      { type: 'bulletList', content: [emptyItem] },
      heading(agenda),
      { type: 'orderedList', attrs: { start: 1 }, content: [emptyItem] },
      heading(decisions),
      { type: 'bulletList', content: [emptyItem] },
      heading(actions),
      { type: ACTION_ITEM, attrs: FRESH }
    ]
  }
}

/** Fills an empty document with the minutes template; does nothing to a written one. */
export function insertMinutesTemplate(editor: Editor): boolean {
  if (!editor.isEditable || !editor.isEmpty) return false
  editor.chain().setContent(minutesTemplate()).focus('start').run()
  // The caret goes to the first participant.
  let target: number | null = null
  editor.state.doc.descendants((node, position) => {
    if (target !== null) return false
    if (node.type.name === 'bulletList') target = position + 3
    return target === null
  })
  if (target !== null) editor.chain().setTextSelection(target).scrollIntoView().run()
  return true
}
