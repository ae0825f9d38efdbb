// A modal question (the browser's <dialog>: focus stays inside, Escape cancels), with an
// optional text field, for confirmations and the comments of the validation workflow.
import { t } from './i18n'
import { el } from './ui'

export interface AskOptions {
  title: string
  text?: string
  /** A text to type: several lines unless `singleLine` (then Enter confirms); `value` prefills it. */
  field?: { label: string, required: boolean, maxLength?: number, singleLine?: boolean, value?: string }
  confirm: string
  cancel: string
  /** Marks the confirm button as destructive. */
  danger?: boolean
}

let nextId = 0

/**
 * Asks a question in a modal dialog. Resolves to the field's text (trimmed; empty without a
 * field) when confirmed, null when cancelled. Focus returns where it was.
 */
export function ask(options: AskOptions): Promise<string | null> {
  const id = `dialog-${++nextId}`
  const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null
  const title = el('h2', { id: `${id}-title` }, options.title)
  const form = el('form', { method: 'dialog', class: 'stack' })
  const dialog = el('dialog', { class: 'dialog', 'aria-labelledby': title.id }, form)
  form.append(title)
  if (options.text !== undefined) {
    form.append(el('p', { id: `${id}-text` }, options.text))
    dialog.setAttribute('aria-describedby', `${id}-text`)
  }
  let field: HTMLTextAreaElement | HTMLInputElement | null = null
  if (options.field !== undefined) {
    const common = {
      id: `${id}-field`,
      maxlength: String(options.field.maxLength ?? 4000),
      required: options.field.required ? '' : undefined,
      'aria-required': options.field.required ? 'true' : undefined,
      autofocus: ''
    }
    field = options.field.singleLine
      ? el('input', { ...common, type: 'text', autocomplete: 'off' })
      : el('textarea', { ...common, rows: '3' })
    field.value = options.field.value ?? ''
    form.append(el('label', { for: field.id }, options.field.label), field)
  }
  const cancel = el('button', { type: 'button', value: 'cancel' }, options.cancel)
  const confirm = el('button', { type: 'submit', value: 'confirm', class: options.danger ? 'danger' : 'primary' }, options.confirm)
  if (field === null) cancel.setAttribute('autofocus', '')
  form.append(el('div', { class: 'row dialog-buttons' }, cancel, confirm))

  return new Promise((resolve) => {
    let answer: string | null = null
    field?.addEventListener('input', () => field?.setCustomValidity(''))
    form.addEventListener('submit', (event) => {
      if (field !== null && options.field?.required && field.value.trim() === '') {
        // `required` lets spaces through.
        event.preventDefault()
        field.setCustomValidity(t.common.required)
        field.reportValidity()
        return
      }
      answer = field === null ? '' : field.value.trim()
    })
    cancel.addEventListener('click', () => dialog.close())
    dialog.addEventListener('close', () => {
      dialog.remove()
      if (previous?.isConnected) previous.focus()
      resolve(answer)
    })
    document.body.append(dialog)
    dialog.showModal()
  })
}
