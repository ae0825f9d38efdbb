#!/usr/bin/env node
// A real y-websocket client, driven one JSON line at a time over stdin/stdout,
// so the Rust end-to-end tests can check Relais against the stock JS stack.
// Protocol: see README.md next to this file. Every command gets exactly one
// reply line on stdout; everything else goes to stderr.

import { createHash } from 'node:crypto'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { WebsocketProvider, messageAuth } from 'y-websocket'
import * as authProtocol from 'y-protocols/auth'

// Libraries must never corrupt the reply stream: route stray console.log to stderr.
console.log = console.error
console.info = console.error

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    room: { type: 'string' },
    name: { type: 'string' },
    token: { type: 'string' }
  }
})
if (!args.url || !args.room) {
  console.error('usage: node yclient.mjs --url ws://HOST:PORT/yjs --room NAME [--name alice]')
  process.exit(2)
}

const log = (...a) => console.error(`[yclient ${args.name ?? args.room}]`, ...a)

const stats = { connects: 0, disconnects: 0, errors: 0, denied: null, closed: null }

// In a browser an exception in onmessage is logged and the next frame is still
// delivered; in Node it escapes into ws's frame parser and wedges the socket.
// Catch it per message (as a browser would) and count it in status.errors.
class BrowserLikeWebSocket extends WebSocket {
  get onmessage () { return super.onmessage }
  set onmessage (fn) {
    super.onmessage = fn && ((event) => {
      try {
        fn(event)
      } catch (err) {
        stats.errors++
        log('error while handling a server message:', err)
      }
    })
  }
}

const doc = new Y.Doc()
const text = doc.getText('text')
// The provider appends the room to the URL as is; encode it so that names
// with spaces, '/', '?' or '#' stay one path segment (the server decodes it).
const provider = new WebsocketProvider(args.url, encodeURIComponent(args.room), doc, {
  WebSocketPolyfill: BrowserLikeWebSocket,
  connect: true,
  params: args.token !== undefined ? { token: args.token } : {},
  // Node has a process-local BroadcastChannel; keep every byte going through the server.
  disableBc: true
})
if (args.name !== undefined) provider.awareness.setLocalState({ user: { name: args.name } })

provider.on('status', ({ status }) => {
  log('status', status)
  if (status === 'connected') stats.connects++
  if (status === 'disconnected') stats.disconnects++
})
// A close code the provider treats as final (4400-4499): it stops reconnecting.
provider.on('closed', ({ code, reason }) => {
  log('closed for good', code, reason)
  stats.closed = { code, reason }
})
// The stock auth handler only console.warns; keep the reason so tests can see it.
provider.messageHandlers[messageAuth] = (_encoder, decoder, p) => {
  authProtocol.readAuthMessage(decoder, p.doc, (_doc, reason) => {
    log('permission denied:', reason)
    stats.denied = reason
  })
}
// Anything else that escapes: record it rather than die mid-test.
process.on('uncaughtException', (err) => {
  stats.errors++
  log('uncaught error:', err)
})

// ---- helpers ---------------------------------------------------------------

const int = (v, what) => {
  if (!Number.isInteger(v) || v < 0) throw new Error(`${what} must be a non-negative integer`)
  return v
}
const str = (v, what) => {
  if (typeof v !== 'string') throw new Error(`${what} must be a string`)
  return v
}
const timeoutOf = (c) => (c.timeout_ms === undefined ? 10000 : int(c.timeout_ms, 'timeout_ms'))

// Resolve when check() holds, re-checking only when `emitter` fires `event`.
// Resolves false on timeout. No polling.
const waitFor = (emitter, event, check, timeoutMs) => new Promise((resolve) => {
  if (check()) return resolve(true)
  const done = (ok) => {
    clearTimeout(timer)
    emitter.off(event, listener)
    resolve(ok)
  }
  const listener = () => { if (check()) done(true) }
  const timer = setTimeout(() => done(false), timeoutMs)
  emitter.on(event, listener)
})

const peers = () => [...provider.awareness.getStates()]
  .filter(([id]) => id !== doc.clientID)
  .sort(([a], [b]) => a - b)
  .map(([id, state]) => ({ client_id: id, state }))

// Deterministic filler for the big-paste test; ASCII, so bytes == UTF-16 units.
const filler = (n) => {
  const unit = 'abcdefghij\n'
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n)
}

// ---- commands --------------------------------------------------------------

let exiting = false

const commands = {
  status: () => ({
    connected: provider.wsconnected,
    synced: provider.synced,
    ...stats
  }),
  insert: (c) => {
    text.insert(Math.min(int(c.index, 'index'), text.length), str(c.text, 'text'))
    return {}
  },
  delete: (c) => {
    const index = Math.min(int(c.index, 'index'), text.length)
    text.delete(index, Math.min(int(c.length, 'length'), text.length - index))
    return {}
  },
  text: () => ({ text: text.toString() }),
  wait: async (c) => {
    const want = str(c.text, 'text')
    if (await waitFor(doc, 'update', () => text.toString() === want, timeoutOf(c))) return {}
    return { ok: false, error: 'timeout', text: text.toString() }
  },
  wait_synced: async (c) => {
    if (await waitFor(provider, 'sync', () => provider.synced, timeoutOf(c))) return {}
    return { ok: false, error: 'timeout' }
  },
  // Waits until exactly `count` other clients are present in awareness.
  wait_peers: async (c) => {
    const count = int(c.count, 'count')
    if (await waitFor(provider.awareness, 'change', () => peers().length === count, timeoutOf(c))) {
      return { peers: peers() }
    }
    return { ok: false, error: 'timeout', peers: peers() }
  },
  awareness: (c) => {
    const s = c.state
    if (s === null) provider.awareness.setLocalState(null) // leave, as a closing tab would
    else if (typeof s !== 'object' || Array.isArray(s)) throw new Error('state must be an object or null')
    else if (c.replace === true) provider.awareness.setLocalState(s)
    // Default: merge the fields, like setLocalStateField for each, in one update.
    else provider.awareness.setLocalState({ ...(provider.awareness.getLocalState() ?? {}), ...s })
    return {}
  },
  peers: () => ({ peers: peers() }),
  disconnect: () => { provider.disconnect(); return {} },
  connect: () => { provider.connect(); return {} },
  state_hash: () => {
    const s = text.toString()
    return {
      len: s.length,
      bytes: Buffer.byteLength(s, 'utf8'),
      text_sha256: createHash('sha256').update(s, 'utf8').digest('hex')
    }
  },
  insert_large: (c) => {
    text.insert(Math.min(int(c.index, 'index'), text.length), filler(int(c.bytes, 'bytes')))
    return {}
  },
  close: () => { exiting = true; return {} }
}

const reply = (obj) => new Promise((resolve) => process.stdout.write(JSON.stringify(obj) + '\n', resolve))

const handle = async (line) => {
  let c
  try {
    c = JSON.parse(line)
  } catch (e) {
    return { ok: false, error: `bad json: ${e.message}` }
  }
  if (c === null || typeof c !== 'object' || Array.isArray(c)) return { ok: false, error: 'command must be a JSON object' }
  const fn = Object.hasOwn(commands, c.cmd) ? commands[c.cmd] : null
  const id = c.id === undefined ? {} : { id: c.id } // optional correlation id, echoed back
  if (!fn) return { ok: false, error: `unknown command: ${JSON.stringify(c.cmd)}`, ...id }
  try {
    return { ok: true, ...(await fn(c)), ...id }
  } catch (e) {
    return { ok: false, error: e.message, ...id }
  }
}

// Destroy the provider (it sends our awareness removal, then closes), give the
// socket a moment to send its close frame so the server sees a clean leave, exit.
const shutdown = async () => {
  const ws = provider.ws
  provider.destroy()
  if (ws && ws.readyState !== WebSocket.CLOSED) {
    await new Promise((resolve) => {
      ws.once('close', resolve)
      setTimeout(resolve, 1000)
    })
  }
  process.exit(0)
}

// Commands run strictly one after another, so replies come back in order even
// while a `wait` is pending.
let queue = Promise.resolve()
const rl = createInterface({ input: process.stdin, crlfDelay: Infinity })
rl.on('line', (line) => {
  if (line.trim() === '') return
  queue = queue.then(async () => {
    if (exiting) return
    await reply(await handle(line))
    if (exiting) await shutdown()
  })
})
rl.on('close', () => { queue = queue.then(() => { exiting = true; return shutdown() }) })
