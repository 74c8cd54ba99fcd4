// A corpus of hostile strings (test/fixtures/xss.ts) as user names, request paths, user agents,
// client paths, referrers, element names and metadata, rendered by every view of the admin page in
// real headless Chromium: the static log with its expanded rows and sessions, the live log, the
// all-users stream, Active now, the report and the audit trail. Each view must show the strings as
// text, open no dialog, run nothing, create no element or handler from data, and request nothing
// from another host. The CSP would block most inline scripts anyway, so the DOM is checked too:
// what must never happen is markup being made from data at all.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import type { AddressInfo } from 'node:net'
import { RedisServer, freePort } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin, rawVisit } from '../helpers/app.js'
import { launch, watch } from '../helpers/browser.js'
import { XSS_PAYLOADS, FOREIGN_HOST, rawPath, rawHeader } from '../fixtures/xss.js'
import { userlogRealtime } from '../../src/realtime/index.js'

const redis = await RedisServer.start()
const rtPort = await freePort()
const { app } = await buildApp({ redis: redis.url, realtimeUrl: `ws://127.0.0.1:${rtPort}/live`, maxEntries: 500 }, (app) => {
  app.get('/*', async () => 'page')
})
await app.listen({ port: 0, host: '127.0.0.1' })
const port = (app.server.address() as AddressInfo).port
const origin = `http://127.0.0.1:${port}`
const realtime: FastifyInstance = Fastify()
await realtime.register(userlogRealtime, { redis: redis.url, origins: [origin] })
await realtime.listen({ port: rtPort, host: '127.0.0.1' })
const browser = await launch()
t.teardown(async () => { await browser.close(); await realtime.close(); await app.close(); await redis.stop() })

const VICTIM = 'victim'
const ALLOWED = [`127.0.0.1:${port}`, `127.0.0.1:${rtPort}`]

const visit = async (user: string, path: string, ua?: string): Promise<void> => await rawVisit(port, user, path, ua)

/** Client events carrying every payload: as a page path, a referrer, an element name, a metadata key and value. */
async function postEvents (user: string): Promise<void> {
  for (let i = 0; i < XSS_PAYLOADS.length; i += 10) {
    const events = XSS_PAYLOADS.slice(i, i + 10).flatMap((p) => [
      { type: 'pageview', path: '/' + p, referrer: p },
      {
        type: 'interaction', path: '/form', event: 'click', element: p.slice(0, 200), metadata: { [p.slice(0, 64)]: p }
      }
    ])
    const res = await app.inject({
      method: 'POST',
      url: '/userlog/events',
      headers: { ...asUser(user), 'content-type': 'application/json' },
      payload: events
    })
    if (res.statusCode !== 204) throw new Error(`events refused: ${res.statusCode} ${res.body}`)
  }
}

// Runs in the page: every element or attribute that data could have created. The page's own markup
// has none of these inside <main> and the banner; anywhere, no attribute may be an event handler or
// a script URL, and no link may leave the origin.
function injected (): string[] {
  const bad: string[] = []
  const risky = 'script, iframe, frame, object, embed, img, image, base, meta, link, style, math, details, x, ' +
    'textarea, foreignObject, animate, set, use, form:not(#search)'
  for (const e of document.querySelectorAll(`main :is(${risky}), #banner :is(${risky})`)) {
    bad.push(`<${e.localName}> in the data`)
  }
  for (const e of document.querySelectorAll('*')) {
    for (const a of e.attributes) {
      // As the URL parser reads it: leading controls, spaces, tabs and newlines do not count.
      const value = a.value.replace(/[\s\p{Cc}]/gu, '').toLowerCase()
      if (a.name.startsWith('on')) bad.push(`${e.localName}[${a.name}]`)
      if (/^(javascript|vbscript|data):/.test(value)) bad.push(`${e.localName}[${a.name}=${a.value.slice(0, 40)}]`)
      if (a.name === 'style' && value.includes('url(')) bad.push(`${e.localName}[style] with url()`)
    }
    if (e instanceof HTMLAnchorElement && e.href !== '' && new URL(e.href).origin !== location.origin) {
      bad.push(`a link to ${e.href.slice(0, 60)}`)
    }
  }
  return bad
}

async function openAdmin (
  hash = ''
): Promise<{ page: Page, check: (where: string) => Promise<void>, close: () => Promise<void> }> {
  const context = await browser.newContext()
  await context.addCookies([{ name: 'testuser', value: 'admin', url: origin }])
  const page = await context.newPage()
  const seen = watch(page, ALLOWED)
  const blocked: string[] = []
  page.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) blocked.push(m.text()) })
  await page.goto(`${origin}/userlog/${hash}`)
  const check = async (where: string): Promise<void> => {
    t.same(seen.dialogs, [], `${where}: no dialog`)
    t.same(seen.foreign, [], `${where}: no request to another host`)
    t.same(seen.errors, [], `${where}: no script error`)
    t.same(blocked, [], `${where}: nothing for the CSP to block`)
    t.equal(await page.evaluate(() => (window as unknown as { __xss?: unknown }).__xss), undefined,
      `${where}: window.__xss unset`)
    t.same(await page.evaluate(injected), [], `${where}: no element, handler or foreign link made from data`)
  }
  return { page, check, close: async () => { await context.close() } }
}

/** Whether every string occurs in the text of `selector`; the ones missing, for the message. */
async function missingText (page: Page, selector: string, strings: string[]): Promise<string[]> {
  const text = await page.$eval(selector, (e) => e.textContent ?? '')
  return strings.filter((s) => !text.includes(s))
}

/** The stored entries of a user, as the admin API returns them. */
async function stored (user: string): Promise<Array<Record<string, unknown>>> {
  const res = await app.inject({ url: `/userlog/api/logs/${encodeURIComponent(user)}`, headers: asAdmin })
  return res.json<{ entries: Array<Record<string, unknown>> }>().entries
}

await postEvents(VICTIM)
for (const p of XSS_PAYLOADS) await visit(VICTIM, rawPath(p), rawHeader(p))
for (const [i, p] of XSS_PAYLOADS.entries()) await visit(p, `/by-name/${i}`)
await app.userlog.flush()

t.test('the detector works: a payload set as markup runs and is found', async (t) => {
  const page = await browser.newPage()
  await page.setContent('<main><img src=x onerror="__xss=1"></main>')
  await page.waitForFunction(() => (window as unknown as { __xss?: unknown }).__xss === 1)
  t.same(await page.evaluate(injected), ['<img> in the data', 'img[onerror]'])
  await page.close()
  t.ok(XSS_PAYLOADS.length >= 30, `${XSS_PAYLOADS.length} payloads`)
  t.ok(XSS_PAYLOADS.filter((p) => p.includes(FOREIGN_HOST)).length >= 5, 'several would fetch from the foreign host')
})

t.test(`${XSS_PAYLOADS.length} payloads: the static log, expanded rows and sessions`, async (t) => {
  const entries = await stored(VICTIM)
  t.equal(entries.length, XSS_PAYLOADS.length * 3, 'every request and event was stored')
  const { page, check, close } = await openAdmin(`#user=${VICTIM}`)
  await page.waitForFunction((n) => document.querySelectorAll('#log tbody tr.entry').length === n, entries.length)
  const paths = entries.map((e) => String(e.path))
  t.same(await missingText(page, '#log tbody', paths), [], 'every stored path is shown as text')
  t.ok(paths.includes(rawPath(XSS_PAYLOADS[0] as string)), 'the raw hostile paths were stored as sent')

  // Expand every row: user agents, referrers, element names and metadata appear in the details.
  await page.$$eval('#log tbody tr.entry', (trs) => { for (const tr of trs) (tr as HTMLElement).click() })
  await page.waitForFunction((n) => document.querySelectorAll('#log tr.detail').length === n, entries.length)
  const uas = entries.filter((e) => e.kind === 'request').map((e) => String(e.ua))
  t.same(await missingText(page, '#log tbody', uas), [], 'every hostile user agent is shown as text')
  t.same(await missingText(page, '#log tbody', XSS_PAYLOADS.map((p) => p.slice(0, 200))), [],
    'every element name and referrer is shown as text')
  await page.waitForSelector('#sessions:not([hidden])')
  await check('static log')
  await close()
})

t.test('hostile user names: searched, shown, suggested and audited', async (t) => {
  const { page, check, close } = await openAdmin()
  for (const [i, p] of XSS_PAYLOADS.entries()) {
    await page.fill('#username', p)
    await page.click('#search button[type=submit]')
    await page.waitForFunction((path) => document.querySelector('#log tbody tr.entry td.url')?.textContent === path,
      `/by-name/${i}`)
  }
  t.same(await missingText(page, '#message', [XSS_PAYLOADS.at(-1) as string]), [],
    'the name in the status line is text')
  await page.fill('#username', '<')
  await page.waitForFunction(() => document.querySelectorAll('#user-suggestions option').length > 0)
  await check('user search')

  await page.click('.tab[data-tab=active]')
  await page.waitForFunction(() => document.querySelectorAll('#active tbody tr').length > 1)
  t.same(await missingText(page, '#active tbody', [...XSS_PAYLOADS]), [], 'Active now lists every hostile name as text')
  await check('active now')

  await page.click('.tab[data-tab=audit]')
  await page.waitForSelector('#view-audit table tbody tr')
  t.same(await missingText(page, '#view-audit', XSS_PAYLOADS.slice(-20)), [],
    'the audit trail names the viewed users as text')
  await check('audit')

  await page.click('.tab[data-tab=report]')
  await page.waitForSelector('#view-report svg.chart.pages text.label', { state: 'attached' })
  const labels = await page.$$eval('#view-report svg text', (ts) => ts.map((e) => e.textContent ?? ''))
  t.ok(labels.some((l) => XSS_PAYLOADS.some((p) => l.includes(p))), 'hostile page paths are report labels, as text')
  await check('report')
  await close()
})

t.test('live: hostile paths, agents and names arriving over the WebSocket', async (t) => {
  const { page, check, close } = await openAdmin(`#user=${VICTIM}`)
  await page.waitForSelector('#log tbody tr.entry')
  await page.check('.live-switch')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'Live')
  for (const p of XSS_PAYLOADS) await visit(VICTIM, rawPath(p) + '/live', rawHeader(p))
  const last = rawPath(XSS_PAYLOADS.at(-1) as string) + '/live'
  await page.waitForFunction((path) => document.querySelector('#log tbody tr.entry td.url')?.textContent === path, last)
  t.same(await missingText(page, '#log tbody', XSS_PAYLOADS.map((p) => rawPath(p) + '/live')), [],
    'every live path is text')
  await page.click('#log tbody tr.entry >> nth=0')
  t.same(await missingText(page, '#log tr.detail', [rawHeader(XSS_PAYLOADS.at(-1) as string)]), [],
    'the live user agent is text')
  await check('live log')

  await page.click('.tab[data-tab=all]')
  await page.waitForFunction(() => document.querySelector('#all-message')?.textContent === 'Live: all users')
  for (const p of XSS_PAYLOADS) await visit(p, '/all-users')
  await page.waitForFunction((n) => document.querySelectorAll('#all-log tbody tr.entry').length >= n,
    XSS_PAYLOADS.length)
  t.same(await missingText(page, '#all-log tbody', [...XSS_PAYLOADS]), [],
    'every hostile name in the user column is text')
  await page.$$eval('#all-log tbody tr.entry', (trs) => { for (const tr of trs) (tr as HTMLElement).click() })
  await check('all-users stream')
  await close()
})
