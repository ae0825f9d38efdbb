// The validation workflow of the open document: its state as a badge beside the title, what
// was submitted or decided, the seal of the approved version, the publication, and the
// buttons each role may use. The state is polled while the document is open, so that a
// validator's decision reaches the editors within seconds, and refreshed at once after one's
// own actions.
import { api, ApiError, type Review, type ReviewStatus, type Role, type Seal } from './api'
import { ask } from './dialog'
import { locale, t } from './i18n'
import { $, canEdit, describe, el, notify, personName } from './ui'

/** How often the state is fetched while the document is open. */
const POLL_MS = 3_000

const DATE_TIME = new Intl.DateTimeFormat(locale, { dateStyle: 'long', timeStyle: 'short' })
export const formatDateTime = (ms: number) => DATE_TIME.format(new Date(ms))

export interface ReviewController {
  /** Fetches the state now (after one's own action, or a refused edit). */
  refresh: () => Promise<void>
  status: () => ReviewStatus | null
  close: () => void
}

/** The state as the badge words it: "Publié" once the approved version is published. */
function stateLabel(status: ReviewStatus): string {
  if (status.state === 'approved' && status.publication !== null) return t.review.published
  return t.review.state[status.state] ?? status.state
}

const latest = (status: ReviewStatus, decision: Review['decision']) =>
  status.reviews.find((review) => review.decision === decision) ?? null

/** A shortened SHA-256 with the full value in a tooltip, and a button copying it. */
function hashLine(sha256: string): HTMLElement {
  const copy = el('button', { type: 'button', class: 'small', 'aria-label': t.review.copyHashLabel }, t.review.copyHash)
  copy.addEventListener('click', () => {
    navigator.clipboard.writeText(sha256)
      .then(() => notify(t.review.copied, 'info'), () => notify(t.review.copyFailed))
  })
  return el('span', { class: 'hash' },
    el('code', { title: sha256, 'data-sha256': sha256 }, `${sha256.slice(0, 12)}…`), ' ', copy)
}

/** The seal of an approved version: who, when, what they said, and the content's hash. */
export function sealView(number: number, seal: Seal, headingLevel: 'h3' | 'h4' = 'h3'): HTMLElement {
  const list = el('dl', { class: 'seal-details' },
    el('dt', {}, t.review.sealValidator), el('dd', {}, personName(seal.validator.name, seal.validator.external)),
    el('dt', {}, t.review.sealDate), el('dd', {}, el('time', { datetime: new Date(seal.sealed_at_ms).toISOString() }, formatDateTime(seal.sealed_at_ms))))
  if (seal.comment) list.append(el('dt', {}, t.review.sealComment), el('dd', {}, seal.comment))
  list.append(el('dt', {}, t.review.sealHash), el('dd', {}, hashLine(seal.sha256)))
  return el('section', { class: 'seal', 'aria-label': t.review.seal(number) },
    el(headingLevel, {}, t.review.seal(number)), list)
}

/**
 * Follows the validation state of document `documentId` and shows it in the editor view.
 * `onStatus` runs with each new state (the editor turns read-only while it is frozen).
 */
export function reviewController(options: {
  documentId: string
  role: Role
  onStatus: (status: ReviewStatus, changed: boolean) => void
}): ReviewController {
  const { documentId, role } = options
  const badge = $('review-badge')
  const bar = $('review-bar')
  const info = $('review-info')
  const actions = $('review-actions')
  const live = $('review-live')
  let status: ReviewStatus | null = null
  let shown = ''
  let closed = false
  let timer: number | undefined
  let inFlight: Promise<void> | null = null
  /** The last confirmation shown for one's own action. */
  let ownNotice = ''
  let ownNoticeSeen = false
  const confirmAction = (message: string) => {
    ownNotice = message
    ownNoticeSeen = false
    notify(message, 'info')
  }
  /** Seals of approved versions, fetched once each (they never change). */
  const seals = new Map<number, Seal | null>()

  const canPublish = role === 'validator' || role === 'owner'

  const act = async (button: HTMLButtonElement, action: () => Promise<void>) => {
    if (button.getAttribute('aria-busy') === 'true') return
    button.setAttribute('aria-busy', 'true')
    try {
      await action()
    } catch (error) {
      notify(describe(error, { conflict: t.review.conflict }))
    } finally {
      button.removeAttribute('aria-busy')
      await refresh()
    }
  }

  const button = (label: string, name: string, action: () => Promise<void>, kind = '') => {
    const element = el('button', { type: 'button', 'data-action': name, class: kind }, label)
    element.addEventListener('click', () => void act(element, action))
    return element
  }

  const submit = async () => {
    const note = await ask({
      title: t.review.submitTitle,
      text: t.review.submitText,
      field: { label: t.review.noteLabel, required: false },
      confirm: t.review.submitConfirm,
      cancel: t.history.cancel
    })
    if (note === null) return
    await api.submitReview(documentId, note)
    confirmAction(t.review.submitted)
  }
  const decide = (approve: boolean) => async () => {
    const comment = await ask({
      title: approve ? t.review.approveTitle : t.review.rejectTitle,
      text: approve ? t.review.approveText : t.review.rejectText,
      field: { label: approve ? t.review.commentLabel : t.review.commentRequired, required: !approve },
      confirm: approve ? t.review.approve : t.review.reject,
      cancel: t.history.cancel,
      danger: !approve
    })
    if (comment === null) return
    await (approve ? api.approveReview(documentId, comment) : api.rejectReview(documentId, comment))
    confirmAction(approve ? t.review.approved : t.review.rejected)
  }
  const publish = async () => {
    await api.publish(documentId)
    confirmAction(t.review.publishedNow)
  }
  const unpublish = async () => {
    const confirmed = await ask({
      title: t.review.unpublishTitle,
      text: t.review.unpublishText,
      confirm: t.review.unpublish,
      cancel: t.history.cancel,
      danger: true
    })
    if (confirmed === null) return
    await api.unpublish(documentId)
    confirmAction(t.review.unpublished)
  }

  const render = (current: ReviewStatus) => {
    const label = stateLabel(current)
    const previousState = badge.dataset['state']
    const state = current.state === 'approved' && current.publication !== null ? 'published' : current.state
    badge.dataset['state'] = state
    badge.textContent = label
    badge.hidden = false
    // Announced on change only, never on the first load.
    if (previousState !== undefined && previousState !== '' && previousState !== state) {
      live.textContent = t.review.stateAnnounce(label)
      // The confirmation of one's own action stays for the change it made, and goes with
      // the next one, which it no longer describes.
      if (ownNotice !== '' && !ownNoticeSeen) {
        ownNoticeSeen = true
      } else if (ownNotice !== '') {
        if ($('notice').textContent === ownNotice) notify('')
        ownNotice = ''
      }
    }

    const lines: HTMLElement[] = []
    const pending = current.state === 'submitted' ? current.reviews.find((review) => review.decision === null) : undefined
    if (pending !== undefined) {
      lines.push(el('p', {}, t.review.submittedBy(personName(pending.submitted_by.name, pending.submitted_by.external),
        formatDateTime(pending.submitted_at_ms), pending.version)))
      if (pending.note) lines.push(el('p', { class: 'review-note' }, t.review.note(pending.note)))
    }
    const rejected = current.state === 'rejected' ? latest(current, 'rejected') : null
    if (rejected !== null && rejected.decided_by !== null) {
      lines.push(el('p', {}, t.review.rejectedBy(personName(rejected.decided_by.name, rejected.decided_by.external),
        formatDateTime(rejected.decided_at_ms ?? rejected.submitted_at_ms), rejected.version)))
      if (rejected.comment) lines.push(el('p', { class: 'review-note' }, t.review.comment(rejected.comment)))
    }
    const approved = latest(current, 'approved')
    const seal = approved === null ? undefined : seals.get(approved.version)
    if (approved !== null && seal) lines.push(sealView(approved.version, seal))
    if (current.publication !== null) {
      const publication = current.publication
      lines.push(el('p', { class: 'publication' },
        t.review.publishedAt(publication.version, formatDateTime(publication.published_at_ms),
          personName(publication.published_by.name, publication.published_by.external)),
        ' ',
        el('a', { href: publication.url, rel: 'noopener', target: '_blank' }, publication.url)))
    }

    const buttons: HTMLButtonElement[] = []
    // An approved document unchanged since has nothing new to submit.
    if (canEdit(role) && current.state !== 'submitted' && current.state !== 'approved') {
      buttons.push(button(t.review.submit, 'submit', submit))
    }
    if (current.can_decide && current.state === 'submitted') {
      buttons.push(button(t.review.approve, 'approve', decide(true), 'primary'), button(t.review.reject, 'reject', decide(false), 'danger'))
    }
    if (canPublish && approved !== null && current.publication?.version !== approved.version) {
      buttons.push(button(t.review.publish, 'publish', publish))
    }
    if (canPublish && current.publication !== null) buttons.push(button(t.review.unpublish, 'unpublish', unpublish))

    // Keep the focus on the same button when the bar is redrawn under it.
    const focused = actions.contains(document.activeElement) ? (document.activeElement as HTMLElement).dataset['action'] : undefined
    info.replaceChildren(...lines)
    actions.replaceChildren(...buttons)
    if (focused !== undefined) actions.querySelector<HTMLElement>(`[data-action="${focused}"]`)?.focus()
    bar.hidden = lines.length === 0 && buttons.length === 0
  }

  const fetchSeal = async (current: ReviewStatus) => {
    const approved = latest(current, 'approved')
    if (approved === null || seals.has(approved.version)) return
    seals.set(approved.version, null)
    try {
      const { version } = await api.version(documentId, approved.version)
      seals.set(approved.version, version.seal)
    } catch {
      seals.delete(approved.version)
    }
  }

  const load = async () => {
    const next = await api.review(documentId)
    if (closed) return
    await fetchSeal(next)
    if (closed) return
    const json = JSON.stringify(next) + String(seals.get(latest(next, 'approved')?.version ?? -1)?.sha256)
    const changed = json !== shown
    status = next
    if (changed) {
      shown = json
      render(next)
    }
    options.onStatus(next, changed)
  }

  const refresh = (): Promise<void> => {
    if (inFlight !== null) {
      // One request at a time; a refresh asked meanwhile runs right after it.
      return inFlight.then(() => refresh())
    }
    inFlight = load()
      .catch((error: unknown) => {
        // A network hiccup: the next poll tries again. Anything else is worth saying once.
        if (!(error instanceof ApiError) || error.status === 0) return
        if (badge.hidden) notify(describe(error))
      })
      .finally(() => { inFlight = null })
    return inFlight
  }

  const schedule = () => {
    timer = window.setTimeout(() => {
      void refresh().finally(() => { if (!closed) schedule() })
    }, POLL_MS)
  }
  const onVisible = () => { if (document.visibilityState === 'visible') void refresh() }
  document.addEventListener('visibilitychange', onVisible)
  void refresh()
  schedule()

  return {
    refresh,
    status: () => status,
    close: () => {
      closed = true
      window.clearTimeout(timer)
      document.removeEventListener('visibilitychange', onVisible)
      badge.hidden = true
      badge.textContent = ''
      delete badge.dataset['state']
      bar.hidden = true
      info.replaceChildren()
      actions.replaceChildren()
      live.textContent = ''
    }
  }
}
