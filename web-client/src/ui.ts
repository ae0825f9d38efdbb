// Small DOM helpers and the wording shared by the views (from the catalogue).
import { ApiError, type Role, type User } from './api'
import { locale, t } from './i18n'

export const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

/** Creates an element with text and attributes; text always goes through `textContent`. */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<Record<string, string>> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (value !== undefined) element.setAttribute(name, value)
  }
  element.append(...children)
  return element
}

const VIEWS = ['loading', 'sign-in-view', 'invitation-view', 'home-view', 'editor-view', 'messages-view'] as const
export type View = (typeof VIEWS)[number]

/** Shows one view and moves focus to its heading, so screen readers follow. */
export function showView(view: View, focus = true): void {
  for (const id of VIEWS) $(id).hidden = id !== view
  const heading = $(view).querySelector<HTMLElement>('h2[tabindex="-1"]')
  if (focus && heading) heading.focus()
}

const notice = $<HTMLDivElement>('notice')

/** Shows a message in the alert region (announced at once); empty clears it. */
export function notify(message: string, kind: 'error' | 'info' = 'error'): void {
  notice.dataset.kind = kind
  notice.textContent = message
}

export const ROLE_LABELS: Record<Role, string> = t.roles

export const roleLabel = (role: string) => ROLE_LABELS[role as Role] ?? role

/** Roles that cannot change the text. */
export const isReadOnly = (role: string) => role === 'reader' || role === 'commenter'

export const canEdit = (role: string) => role === 'owner' || role === 'validator' || role === 'editor'

const DATE = new Intl.DateTimeFormat(locale, { dateStyle: 'long' })
export const formatDate = (ms: number) => DATE.format(new Date(ms))

const BYTES = new Intl.NumberFormat(locale, { style: 'unit', unit: 'byte', unitDisplay: 'long' })
const KILOBYTES = new Intl.NumberFormat(locale, { style: 'unit', unit: 'kilobyte', maximumFractionDigits: 1 })
const MEGABYTES = new Intl.NumberFormat(locale, { style: 'unit', unit: 'megabyte', maximumFractionDigits: 1 })
/** A file's size in the interface's language: « 12 octets », « 3,4 ko », « 1,2 Mo ». */
export function formatBytes(bytes: number): string {
  if (bytes < 1000) return BYTES.format(bytes)
  if (bytes < 1_000_000) return KILOBYTES.format(bytes / 1000)
  return MEGABYTES.format(bytes / 1_000_000)
}

/** A person's name as shown everywhere: external partners are marked. */
export const personName = (name: string, external: boolean) => (external ? t.people.external(name) : name)
export const userName = (user: User) => personName(user.display_name, user.external)

/** Shows unread and mention counts in a badge (hidden at zero), spelled out for screen readers. */
export function showBadge(badge: HTMLElement, unread: number, mentions = 0): void {
  badge.hidden = unread === 0 && mentions === 0
  if (badge.hidden) {
    badge.replaceChildren()
    return
  }
  badge.replaceChildren(
    el('span', { 'aria-hidden': 'true' }, mentions > 0 ? `${unread} · @${mentions}` : String(unread)),
    el('span', { class: 'visually-hidden' }, t.people.unread(unread, mentions)))
}

/** A sentence for an API refusal; `overrides` words it for the action at hand. */
export function describe(error: unknown, overrides: Partial<Record<string, string>> = {}): string {
  if (!(error instanceof ApiError)) return t.errors.unexpected
  const override = overrides[error.code]
  if (override !== undefined) return override
  switch (error.code) {
    case 'network': return t.errors.network
    case 'unauthenticated': return t.errors.unauthenticated
    case 'forbidden': return t.errors.forbidden
    case 'not_found': return t.errors.notFound
    case 'rate_limited': return t.errors.rateLimited
    case 'not_configured': return t.errors.notConfigured
    case 'unavailable': return t.errors.unavailable
    // The server's reason, as it words it.
    case 'bad_request': return t.errors.badRequest(error.message)
    case 'conflict': return t.errors.conflict(error.message)
    default: return t.errors.server
  }
}

/** Runs a form's submit handler, once at a time (buttons stay focusable meanwhile). */
export function onSubmit(form: HTMLFormElement, handler: () => Promise<void>): void {
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    if (form.getAttribute('aria-busy') === 'true') return
    form.setAttribute('aria-busy', 'true')
    handler()
      .catch((error: unknown) => notify(describe(error)))
      .finally(() => form.removeAttribute('aria-busy'))
  })
}
