// Starts @y/websocket-server (the y-websocket server, split out of the `y-websocket` package)
// with LevelDB persistence, exactly as the server bundled with y-websocket 1.x/2.x did when
// YPERSISTENCE was set: @y/websocket-server 0.1.x still exports `setPersistence` but no longer
// wires YPERSISTENCE itself, so this script does it.
//
// Usage: YPERSISTENCE=DIR node y-websocket-server.mjs   (PORT, default 0 = any free port)
// Prints `y-websocket-server listening on http://127.0.0.1:PORT` once ready.
import http from 'node:http'
import WebSocket from 'ws'
import * as Y from 'yjs'
import { LeveldbPersistence } from 'y-leveldb'
import { setPersistence, setupWSConnection } from '@y/websocket-server/utils'

const persistenceDir = process.env.YPERSISTENCE
if (typeof persistenceDir === 'string') {
  const ldb = new LeveldbPersistence(persistenceDir)
  setPersistence({
    provider: ldb,
    bindState: async (docName, ydoc) => {
      const persistedYdoc = await ldb.getYDoc(docName)
      const newUpdates = Y.encodeStateAsUpdate(ydoc)
      ldb.storeUpdate(docName, newUpdates)
      Y.applyUpdate(ydoc, Y.encodeStateAsUpdate(persistedYdoc))
      ydoc.on('update', (update) => {
        ldb.storeUpdate(docName, update)
      })
    },
    writeState: async () => {}
  })
}

const wss = new WebSocket.Server({ noServer: true })
wss.on('connection', setupWSConnection)

const server = http.createServer((_request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/plain' })
  response.end('okay')
})
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request))
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`y-websocket-server listening on http://127.0.0.1:${server.address().port}`)
})
