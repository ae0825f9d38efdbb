// The rich-text editor: TipTap 3 (ProseMirror) bound to the document's Y.XmlFragment
// through the Collaboration extension (with its own undo of one's own changes), the other
// people's carets and selections with their name and colour, a formatting toolbar, and the
// action items of meeting minutes with their template.
import { Editor } from '@tiptap/core'
import Collaboration from '@tiptap/extension-collaboration'
import CollaborationCaret from '@tiptap/extension-collaboration-caret'
import { TaskItem, TaskList } from '@tiptap/extension-list'
import { TableKit } from '@tiptap/extension-table'
import StarterKit from '@tiptap/starter-kit'
import type * as Y from 'yjs'
import type { WebsocketProvider } from 'y-websocket'
import { ActionItem, addActionItem, insertMinutesTemplate } from './action-item'
import { t } from './i18n'
import { isColor } from './identity'
import { el, personName } from './ui'

/** The Y.XmlFragment the text lives in (TipTap's default field name). */
export const FRAGMENT = 'default'

export interface PresenceUser {
  name: string
  color: string
  external: boolean
}

/** Another person's caret: a coloured bar with their name (marked when external). */
function renderCaret(user: Record<string, unknown>): HTMLElement {
  const color = isColor(user['color']) ? user['color'] : 'gray'
  const raw = typeof user['name'] === 'string' && user['name'].trim() ? user['name'].trim().slice(0, 200) : t.people.anonymous
  const name = personName(raw, user['external'] === true)
  const caret = el('span', { class: 'collaboration-carets__caret' })
  caret.style.borderColor = color
  const label = el('span', { class: 'collaboration-carets__label', 'aria-hidden': 'true' }, name)
  label.style.backgroundColor = color
  caret.append(label)
  return caret
}

interface Button {
  label: string
  text: string
  run: (editor: Editor) => void
  /** For toggles: whether the format is on at the selection (shown with aria-pressed). */
  active?: (editor: Editor) => boolean
  /** Whether the action is possible now. */
  can?: (editor: Editor) => boolean
}

const chain = (editor: Editor) => editor.chain().focus()

/** Whether an action item fits at or after the caret's block. */
function canAddAction(editor: Editor): boolean {
  const type = editor.state.schema.nodes['actionItem']
  if (type === undefined) return false
  const { $from } = editor.state.selection
  for (let depth = $from.depth; depth >= 1; depth--) {
    const index = $from.indexAfter(depth - 1)
    if ($from.node(depth - 1).canReplaceWith(index, index, type)) return true
  }
  return false
}

const BUTTONS: (Button | 'separator')[] = [
  ...([1, 2, 3] as const).map((level): Button => ({
    label: t.toolbar.heading(level),
    text: t.toolbar.headingText(level),
    run: (e) => chain(e).toggleHeading({ level }).run(),
    active: (e) => e.isActive('heading', { level })
  })),
  'separator',
  { label: t.toolbar.bold, text: t.toolbar.boldText, run: (e) => chain(e).toggleBold().run(), active: (e) => e.isActive('bold') },
  { label: t.toolbar.italic, text: t.toolbar.italicText, run: (e) => chain(e).toggleItalic().run(), active: (e) => e.isActive('italic') },
  { label: t.toolbar.underline, text: t.toolbar.underlineText, run: (e) => chain(e).toggleUnderline().run(), active: (e) => e.isActive('underline') },
  {
    label: t.toolbar.link,
    text: '🔗',
    run: (e) => {
      if (e.isActive('link')) {
        chain(e).extendMarkRange('link').unsetLink().run()
        return
      }
      const href = window.prompt(t.toolbar.linkPrompt, 'https://')?.trim()
      if (href && href !== 'https://') chain(e).extendMarkRange('link').setLink({ href }).run()
      else e.commands.focus()
    },
    active: (e) => e.isActive('link')
  },
  'separator',
  { label: t.toolbar.bulletList, text: '•', run: (e) => chain(e).toggleBulletList().run(), active: (e) => e.isActive('bulletList') },
  { label: t.toolbar.orderedList, text: '1.', run: (e) => chain(e).toggleOrderedList().run(), active: (e) => e.isActive('orderedList') },
  { label: t.toolbar.taskList, text: '☑', run: (e) => chain(e).toggleTaskList().run(), active: (e) => e.isActive('taskList') },
  { label: t.toolbar.quote, text: '❝', run: (e) => chain(e).toggleBlockquote().run(), active: (e) => e.isActive('blockquote') },
  {
    label: t.toolbar.table,
    text: '▦',
    run: (e) => chain(e).insertTable({ rows: 3, cols: 3, withHeaderRow: true }).run(),
    can: (e) => e.can().insertTable({ rows: 3, cols: 3, withHeaderRow: true })
  },
  'separator',
  {
    label: t.minutes.addAction,
    text: t.toolbar.actionText,
    run: (e) => { addActionItem(e) },
    can: (e) => e.isEditable && canAddAction(e),
    active: (e) => e.isActive('actionItem')
  },
  {
    label: t.minutes.templateButton,
    text: t.toolbar.templateText,
    // Only on an empty document: the template never overwrites text.
    run: (e) => { if (!insertMinutesTemplate(e)) e.commands.focus() },
    can: (e) => e.isEditable && e.isEmpty
  },
  'separator',
  { label: t.toolbar.undo, text: '↶', run: (e) => chain(e).undo().run(), can: (e) => e.can().undo() },
  { label: t.toolbar.redo, text: '↷', run: (e) => chain(e).redo().run(), can: (e) => e.can().redo() }
]

/**
 * A toolbar following the ARIA pattern: one tab stop, arrow keys move between buttons.
 * Returns a function that refreshes the buttons' states.
 */
function fillToolbar(toolbar: HTMLElement, editor: Editor): () => void {
  const items: [HTMLButtonElement, Button][] = []
  const children: HTMLElement[] = []
  for (const spec of BUTTONS) {
    if (spec === 'separator') {
      children.push(el('span', { class: 'toolbar-separator', role: 'separator', 'aria-orientation': 'vertical' }))
      continue
    }
    // A glyph that reads as text ("T1", "CR") belongs in the name too, so that voice control
    // users can say what they see (WCAG 2.5.3).
    const name = spec.text.length > 1 ? `${spec.label} — ${spec.text}` : spec.label
    const button = el('button', { type: 'button', 'aria-label': name, title: spec.label, tabindex: '-1' }, spec.text)
    // Keep the editor's selection when the button is pressed with the mouse.
    button.addEventListener('mousedown', (event) => event.preventDefault())
    button.addEventListener('click', () => spec.run(editor))
    items.push([button, spec])
    children.push(button)
  }
  toolbar.replaceChildren(...children)
  const buttons = items.map(([button]) => button)
  const first = buttons[0]
  if (first) first.tabIndex = 0
  toolbar.onkeydown = (event) => {
    const index = buttons.indexOf(document.activeElement as HTMLButtonElement)
    if (index < 0) return
    const next = event.key === 'ArrowRight' ? index + 1
      : event.key === 'ArrowLeft' ? index - 1
        : event.key === 'Home' ? 0
          : event.key === 'End' ? buttons.length - 1 : null
    if (next === null) return
    event.preventDefault()
    const target = buttons[(next + buttons.length) % buttons.length]
    if (!target) return
    for (const button of buttons) button.tabIndex = button === target ? 0 : -1
    target.focus()
  }
  return () => {
    for (const [button, spec] of items) {
      if (spec.active) button.setAttribute('aria-pressed', String(spec.active(editor)))
      // aria-disabled rather than disabled: the button stays reachable with the keyboard.
      if (spec.can) button.setAttribute('aria-disabled', String(!spec.can(editor)))
    }
  }
}

export interface RichEditor {
  editor: Editor
  setReadOnly: (readOnly: boolean) => void
  /** Fills the document with the meeting minutes template if it is empty; says whether it did. */
  insertMinutesTemplate: () => boolean
  destroy: () => void
}

/** Mounts the editor in `host` and its toolbar in `toolbar`. */
export function createRichEditor(options: {
  host: HTMLElement
  toolbar: HTMLElement
  doc: Y.Doc
  provider: WebsocketProvider
  user: PresenceUser
  readOnly: boolean
  describedBy: () => string
}): RichEditor {
  const { host, toolbar, doc, provider, user } = options
  const attributes = (readOnly: boolean): Record<string, string> => ({
    role: 'textbox',
    'aria-multiline': 'true',
    'aria-labelledby': 'editor-label',
    'aria-describedby': options.describedBy(),
    'aria-readonly': String(readOnly),
    spellcheck: 'true',
    class: 'editor-content'
  })
  const editor = new Editor({
    element: host,
    editable: !options.readOnly,
    extensions: [
      StarterKit.configure({
        // The Collaboration extension brings its own undo, of one's own changes only.
        undoRedo: false,
        heading: { levels: [1, 2, 3] },
        link: { openOnClick: false, autolink: true, defaultProtocol: 'https' }
      }),
      TaskList,
      TaskItem.configure({
        nested: true,
        a11y: { checkboxLabel: (node, checked) => t.minutes.taskLabel(node.textContent.trim().slice(0, 120), checked) }
      }),
      ActionItem,
      TableKit.configure({ table: { resizable: false } }),
      Collaboration.configure({ document: doc, field: FRAGMENT }),
      CollaborationCaret.configure({ provider, user: { ...user }, render: renderCaret })
    ],
    editorProps: { attributes: attributes(options.readOnly) }
  })
  const refresh = fillToolbar(toolbar, editor)
  toolbar.hidden = options.readOnly
  editor.on('transaction', refresh)
  refresh()

  return {
    editor,
    setReadOnly: (readOnly) => {
      editor.setEditable(!readOnly)
      editor.setOptions({ editorProps: { attributes: attributes(readOnly) } })
      toolbar.hidden = readOnly
      refresh()
    },
    insertMinutesTemplate: () => insertMinutesTemplate(editor),
    destroy: () => {
      editor.destroy()
      toolbar.onkeydown = null
      toolbar.replaceChildren()
      host.replaceChildren()
    }
  }
}
