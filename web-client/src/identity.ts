// Who "I" am in awareness: a name and a colour, kept in localStorage so a
// person keeps them across reloads and documents.

export interface User {
  name: string
  color: string
}

const KEY = 'relais.user'

// Readable both as a dot on light and dark backgrounds.
export const COLORS = ['#d1495b', '#e07a1f', '#b8860b', '#2e8b57', '#1f8a9e', '#3b6fd8', '#7b4fd0', '#c2408f']

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T

export const isColor = (c: unknown): c is string => typeof c === 'string' && /^#[0-9a-f]{6}$/i.test(c)

export function loadUser(): User {
  try {
    const saved: unknown = JSON.parse(localStorage.getItem(KEY) ?? 'null')
    if (saved !== null && typeof saved === 'object') {
      const { name, color } = saved as Record<string, unknown>
      if (typeof name === 'string' && isColor(color)) return { name, color }
    }
  } catch {
    // unreadable or unavailable storage: start afresh
  }
  const user = { name: `Invité·e ${1 + Math.floor(Math.random() * 99)}`, color: pick(COLORS) }
  saveUser(user)
  return user
}

export function saveUser(user: User): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(user))
  } catch {
    // private mode or storage full: the name just won't be remembered
  }
}
