import { defineConfig } from 'vite'

// `npm run dev` serves the page and forwards /yjs and /chat (websockets) and /api to a local
// Relais, by default the one `relais serve` starts on 127.0.0.1:8080.
const relais = process.env.RELAIS_URL ?? 'http://127.0.0.1:8080'

export default defineConfig({
  // Relative asset URLs, so Relais can serve dist/ under any path.
  base: './',
  build: { outDir: 'dist', emptyOutDir: true },
  server: {
    // The Host header is kept, so that Relais sees the page's own origin.
    proxy: { '/yjs': { target: relais, ws: true }, '/chat': { target: relais, ws: true }, '/api': { target: relais } }
  }
})
