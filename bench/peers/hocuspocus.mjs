// Starts @hocuspocus/server v4 with its SQLite extension (documents stored in one SQLite file,
// written after the default 2 s debounce), as its README shows.
//
// Usage: HOCUSPOCUS_DB=FILE node hocuspocus.mjs   (PORT, default 0 = any free port)
// Prints `hocuspocus listening on http://127.0.0.1:PORT` once ready.
import { Server } from '@hocuspocus/server'
import { SQLite } from '@hocuspocus/extension-sqlite'

const database = process.env.HOCUSPOCUS_DB
if (!database) {
  console.error('hocuspocus.mjs: set HOCUSPOCUS_DB to the SQLite file to use')
  process.exit(2)
}

const server = new Server({
  port: Number(process.env.PORT ?? 0),
  address: '127.0.0.1',
  quiet: true,
  extensions: [new SQLite({ database })]
})
await server.listen()
console.log(`hocuspocus listening on http://127.0.0.1:${server.address.port}`)
