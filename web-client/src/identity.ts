// My colour in awareness, kept in localStorage so a person keeps it across
// reloads and documents. The name comes from the signed-in account.

const KEY = 'relais.color'

// Readable both as a dot on light and dark backgrounds.
export const COLORS = ['#d1495b', '#e07a1f', '#b8860b', '#2e8b57', '#1f8a9e', '#3b6fd8', '#7b4fd0', '#c2408f']

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T

export const isColor = (c: unknown): c is string => typeof c === 'string' && /^#[0-9a-f]{6}$/i.test(c)

export function loadColor(): string {
  try {
    const saved = localStorage.getItem(KEY)
    if (isColor(saved)) return saved
  } catch {
    // unreadable or unavailable storage: pick afresh
  }
  const color = pick(COLORS)
  try {
    localStorage.setItem(KEY, color)
  } catch {
    // private mode or storage full: the colour just won't be remembered
  }
  return color
}
