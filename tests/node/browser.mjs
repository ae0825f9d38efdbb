#!/usr/bin/env node
// Drives the web client in headless Chromium (Debian's, never a downloaded one): two separate
// browser contexts open the same document, type, and must see each other's text and presence.
// Usage: node browser.mjs --url http://127.0.0.1:PORT --doc NAME
// Prints one JSON line with the outcome; exits non-zero on failure.

import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'

const { values: args } = parseArgs({ options: { url: { type: 'string' }, doc: { type: 'string' } } })
const executablePath = process.env.RELAIS_TEST_CHROMIUM ?? '/usr/bin/chromium'
const browser = await chromium.launch({
  executablePath,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-quic', '--no-first-run']
})
const timeout = 15_000
try {
  const open = async (name) => {
    // Separate contexts: tabs of one profile could sync through BroadcastChannel and hide
    // a server bug.
    const context = await browser.newContext()
    await context.addInitScript((n) => localStorage.setItem('relais.user', JSON.stringify({ name: n, color: '#3b6fd8' })), name)
    const page = await context.newPage()
    await page.goto(`${args.url}/?doc=${encodeURIComponent(args.doc)}`)
    await page.waitForSelector('#status[data-state="connected"]', { timeout })
    return page
  }
  const anne = await open('Anne')
  const bruno = await open('Bruno')
  await anne.locator('#editor').click()
  await anne.keyboard.type('Ordre du jour : budget.')
  await bruno.waitForFunction(() => document.querySelector('#editor').value === 'Ordre du jour : budget.', null, { timeout })
  await bruno.locator('#editor').press('End')
  await bruno.keyboard.type(' Vote.')
  await anne.waitForFunction(() => document.querySelector('#editor').value === 'Ordre du jour : budget. Vote.', null, { timeout })
  await anne.waitForFunction(() => document.querySelector('#people').textContent.includes('Bruno'), null, { timeout })
  const lang = await anne.getAttribute('html', 'lang')
  if (lang !== 'fr') throw new Error(`html lang is ${lang}`)
  console.log(JSON.stringify({ ok: true, text: await anne.locator('#editor').inputValue() }))
} catch (error) {
  console.log(JSON.stringify({ ok: false, error: String(error) }))
  process.exitCode = 1
} finally {
  await browser.close()
}
