// Two-way binding between a <textarea> and a Y.Text.
//
// Local edits: diff the textarea against what it showed last (`shown`), as one
// delete + insert at the common prefix, applied in one transaction.
// Remote edits: rewrite the textarea and move the selection through the
// change's delta, so the caret stays on the same character.
// During IME composition (dead keys, CJK input…) the textarea is left alone;
// remote deltas are kept and applied when the composition ends.
import * as Y from 'yjs'

type Delta = Y.YTextEvent['delta']

const LOCAL = Symbol('textarea')

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff

/** Position `index` of the old text in the new text. `stickRight`: an insert exactly at `index` pushes it right. */
export function mapIndex(index: number, delta: Delta, stickRight: boolean): number {
  let oldPos = 0
  let shift = 0
  for (const op of delta) {
    if (op.retain !== undefined) {
      oldPos += op.retain
      if (oldPos > index) break
    } else if (op.delete !== undefined) {
      if (oldPos >= index) break
      shift -= Math.min(op.delete, index - oldPos)
      oldPos += op.delete
    } else if (op.insert !== undefined) {
      if (oldPos > index || (oldPos === index && !stickRight)) break
      shift += typeof op.insert === 'string' ? op.insert.length : 1
    }
  }
  return index + shift
}

/** The smallest single replacement turning `a` into `b`, never splitting a surrogate pair. */
export function diff(a: string, b: string): { index: number, remove: number, insert: string } {
  const max = Math.min(a.length, b.length)
  let start = 0
  while (start < max && a.charCodeAt(start) === b.charCodeAt(start)) start++
  if (start > 0 && isHigh(a.charCodeAt(start - 1))) start--
  let end = 0
  while (end < max - start && a.charCodeAt(a.length - 1 - end) === b.charCodeAt(b.length - 1 - end)) end++
  if (end > 0 && isLow(a.charCodeAt(a.length - end))) end--
  return { index: start, remove: a.length - start - end, insert: b.slice(start, b.length - end) }
}

export function bindTextarea(ytext: Y.Text, textarea: HTMLTextAreaElement): () => void {
  const doc = ytext.doc
  if (doc === null) throw new Error('the Y.Text must belong to a Y.Doc')
  let shown = ytext.toString()
  let composing = false
  let pending: Delta[] = [] // remote changes not on screen yet
  textarea.value = shown

  const through = (i: number, stickRight: boolean) =>
    pending.reduce((x, delta) => mapIndex(x, delta, stickRight), i)

  // Replace the textarea's content with the Y.Text, selection moved by `map`.
  const show = (map: (i: number, stickRight: boolean) => number) => {
    const { selectionStart: s, selectionEnd: e, selectionDirection: dir, scrollTop } = textarea
    const focused = document.activeElement === textarea
    shown = ytext.toString()
    textarea.value = shown
    if (focused) {
      // A collapsed caret stays left of text inserted right at it;
      // a selection does not grow to swallow text typed at its edges.
      const ns = map(s, s !== e)
      textarea.setSelectionRange(ns, s === e ? ns : Math.max(ns, map(e, false)), dir)
    }
    textarea.scrollTop = scrollTop
  }

  const onRemote = (event: Y.YTextEvent, tr: Y.Transaction) => {
    if (tr.origin === LOCAL) return
    pending.push(event.delta)
    if (!composing) {
      show(through)
      pending = []
    }
  }

  const pushLocal = () => {
    const value = textarea.value
    let map = through
    if (value !== shown) {
      const { index, remove, insert } = diff(shown, value)
      // `shown` may lag behind the Y.Text by the pending remote changes: map into it.
      const at = through(index, false)
      const removeY = Math.max(0, through(index + remove, false) - at)
      doc.transact(() => {
        if (removeY > 0) ytext.delete(at, removeY)
        if (insert.length > 0) ytext.insert(at, insert)
      }, LOCAL)
      shown = value
      // Textarea positions are now in `value`: map the parts before, inside
      // and after the local replacement separately.
      const end = index + insert.length
      map = (i, stickRight) =>
        i < index
          ? through(i, stickRight)
          : i <= end
            ? at + (i - index)
            : through(i - insert.length + remove, stickRight) - removeY + insert.length
    }
    if (pending.length > 0) {
      // Remote changes held back during a composition: show them now.
      show(map)
      pending = []
    }
  }

  const onInput = () => { if (!composing) pushLocal() }
  const onCompositionStart = () => { composing = true }
  const onCompositionEnd = () => { composing = false; pushLocal() }

  ytext.observe(onRemote)
  textarea.addEventListener('input', onInput)
  textarea.addEventListener('compositionstart', onCompositionStart)
  textarea.addEventListener('compositionend', onCompositionEnd)
  return () => {
    ytext.unobserve(onRemote)
    textarea.removeEventListener('input', onInput)
    textarea.removeEventListener('compositionstart', onCompositionStart)
    textarea.removeEventListener('compositionend', onCompositionEnd)
  }
}
