// Debian's Chromium driven by playwright-core (no browser download). The flags keep Chromium
// from reaching for Google's services, which a closed network refuses.
import { chromium, type Browser, type Page } from 'playwright-core'
import { mkdirSync } from 'node:fs'

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
export const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url).pathname

export async function launch (): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true })
  return await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
  })
}

/** Records every dialog a page opens and every request it makes to a host other than `allowedHost`. */
export function watch (page: Page, allowedHosts: string[]): { dialogs: string[], foreign: string[], errors: string[] } {
  const seen = { dialogs: [] as string[], foreign: [] as string[], errors: [] as string[] }
  page.on('dialog', (d) => { seen.dialogs.push(d.message()); void d.dismiss() })
  page.on('request', (r) => {
    const url = new URL(r.url())
    if (url.protocol === 'data:') return
    if (!allowedHosts.includes(url.host)) seen.foreign.push(r.url())
  })
  page.on('pageerror', (e) => seen.errors.push(e.message))
  return seen
}
