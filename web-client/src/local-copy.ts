// This browser's copy of the documents (IndexedDB, through y-indexeddb): edits made offline
// survive a closed tab and reach the server with the next connection. One database per user and
// document, so that another account signing in on the same browser never sends them as its own.

const PREFIX = 'relais-doc:'

/** The IndexedDB database holding `userId`'s copy of document `documentId`. */
export const localCopyName = (userId: string, documentId: string) => `${PREFIX}${userId}:${documentId}`

/**
 * Deletes a database; resolves after at most `waitMs` (a deletion waits for other tabs to close
 * the database, and then still happens once they do).
 */
export function deleteLocalCopy(name: string, waitMs = 1000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, waitMs)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    try {
      const request = indexedDB.deleteDatabase(name)
      request.onsuccess = done
      request.onerror = done
    } catch {
      done()
    }
  })
}

/** Deletes every document copy this browser holds (on signing out). */
export async function deleteAllLocalCopies(): Promise<void> {
  let names: string[] = []
  try {
    names = (await indexedDB.databases()).map((db) => db.name ?? '').filter((name) => name.startsWith(PREFIX))
  } catch {
    return
  }
  await Promise.all(names.map((name) => deleteLocalCopy(name)))
}
