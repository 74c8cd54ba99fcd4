// The support agent's console in real headless Chromium, with the plugin, the realtime server and
// the tracker on loopback: presence that moves by itself, filters in the static and live views,
// links for a ticket, and the reason of a watch in the audit trail.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { BrowserContext, Page } from 'playwright-core'
import { RedisServer, freePort } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { launch, watch, ARTIFACTS } from '../helpers/browser.js'
import { userlogRealtime } from '../../src/realtime/index.js'
import { filters, presence } from '../../src/shared/view-rules.js'

type Json = Record<string, unknown>

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script defer src="/userlog/tracker.js" data-heartbeat="1"></script></head>
<body><button data-userlog="buy">Buy</button></body></html>`

const redis = await RedisServer.start()
const rtPort = await freePort()
const { app } = await buildApp({ redis: redis.url, realtimeUrl: `ws://127.0.0.1:${rtPort}/live` }, (app) => {
  app.get('/shop/*', async (_req, reply) => await reply.type('text/html; charset=utf-8').send(PAGE))
  app.post('/cart', async (_req, reply) => await reply.code(201).send({ ok: true }))
  app.get('/moved', async (_req, reply) => await reply.redirect('/hello'))
  app.get('/boom', async () => { throw new Error('boom') })
})
await app.listen({ port: 0, host: '127.0.0.1' })
const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
const realtime: FastifyInstance = Fastify()
await realtime.register(userlogRealtime, { redis: redis.url, origins: [origin] })
await realtime.listen({ port: rtPort, host: '127.0.0.1' })
const browser = await launch()
t.teardown(async () => { await browser.close(); await realtime.close(); await app.close(); await redis.stop() })

async function adminPage (): Promise<{ context: BrowserContext, page: Page, seen: ReturnType<typeof watch> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin })
  await context.addCookies([{ name: 'testuser', value: 'admin', url: origin }])
  const page = await context.newPage()
  return { context, page, seen: watch(page, [new URL(origin).host, `127.0.0.1:${rtPort}`]) }
}

/** Browser events posted as the tracker posts them. */
async function events (user: string, list: Json[]): Promise<void> {
  const res = await app.inject({
    method: 'POST',
    url: '/userlog/events',
    headers: { ...asUser(user), 'content-type': 'application/json' },
    payload: list
  })
  if (res.statusCode !== 204) throw new Error(`events refused: ${res.statusCode} ${res.body}`)
}

/** A mixed log: requests of every status class and method, and browser events of every kind. */
async function seed (user: string): Promise<void> {
  const h = asUser(user)
  await app.inject({ url: '/hello', headers: h })
  await app.inject({ method: 'POST', url: '/cart', headers: h, payload: {} })
  await app.inject({ url: '/moved', headers: h })
  await app.inject({ url: '/nowhere/cart', headers: h })
  await app.inject({ url: '/boom', headers: h })
  await events(user, [
    { type: 'pageview', path: '/shop/cart' },
    { type: 'heartbeat', path: '/shop/cart' },
    { type: 'interaction', path: '/shop/cart', event: 'click', element: 'buy' },
    { type: 'session_end', path: '/shop/cart' }
  ])
  await app.userlog.flush()
}

async function storedEntries (user: string): Promise<Json[]> {
  const res = await app.inject({ url: `/userlog/api/logs/${encodeURIComponent(user)}`, headers: asAdmin })
  return res.json<{ entries: Json[] }>().entries
}

const visibleIds = async (page: Page, table = '#log'): Promise<string[]> =>
  await page.$$eval(`${table} tbody tr.entry:not([hidden])`,
    (trs) => trs.map((tr) => (tr as HTMLElement).dataset.id ?? ''))

/** Sets the filter bar of a view to a filter, as an admin would with clicks and typing. */
interface FilterInput { kind?: string[], status?: string[], method?: string, q?: string }
async function setFilter (page: Page, scope: string, f: FilterInput): Promise<void> {
  await page.click(`${scope} .filters button.reset`)
  for (const k of f.kind ?? []) await page.check(`${scope} input[name=kind][value=${k}]`)
  for (const s of f.status ?? []) await page.check(`${scope} input[name=status][value="${s}"]`)
  if (f.method !== undefined) await page.selectOption(`${scope} select[name=method]`, f.method)
  if (f.q !== undefined) await page.fill(`${scope} input[name=q]`, f.q)
}

const CASES: FilterInput[] = [
  { kind: ['request'] },
  { kind: ['pageview', 'interaction'] },
  { kind: ['heartbeat'] },
  { kind: ['session_end'] },
  { status: ['4xx', '5xx'] },
  { status: ['3xx'] },
  { method: 'POST' },
  { q: 'CART' },
  { kind: ['request'], status: ['4xx'], q: '/nowhere' }
]

/** What the shared rule says a filter shows, from the entries the API returned. */
function expected (entries: Json[], f: FilterInput): string[] {
  const parsed = filters.parseFilter({ kind: f.kind?.join(','), status: f.status?.join(','), method: f.method, q: f.q })
  if (parsed.filter === null) throw new Error(parsed.error)
  const rule = parsed.filter
  return entries.filter((e) => filters.matches(rule, e)).map((e) => String(e.id))
}

t.test('each filter shows exactly the matching rows, in the static log and the live view', async (t) => {
  await seed('fil')
  const entries = await storedEntries('fil')
  t.equal(entries.length, 9)
  const { context, page, seen } = await adminPage()
  await page.goto(`${origin}/userlog/#user=fil`)
  await page.waitForSelector('#log tbody tr.entry')
  for (const f of CASES) {
    await setFilter(page, '#view-logs', f)
    const want = expected(entries, f)
    t.ok(want.length > 0 && want.length < entries.length, `${JSON.stringify(f)} is a real test (${want.length} rows)`)
    t.same(await visibleIds(page), want, `static: ${JSON.stringify(f)}`)
    t.equal(await page.textContent('#view-logs .filters .count'), `Showing ${want.length} of ${entries.length}`)
  }
  await page.screenshot({ path: `${ARTIFACTS}console-filtered.png` })

  // Live, filtered to server errors: hidden entries still arrive, and show when the filter changes.
  await setFilter(page, '#view-logs', { status: ['5xx'] })
  await page.check('.live-switch')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'Live')
  await app.inject({ url: '/boom', headers: asUser('fil') })
  await app.inject({ url: '/hello', headers: asUser('fil') })
  await app.userlog.flush()
  await page.waitForFunction(() => document.querySelectorAll('#log tbody tr.entry').length === 11)
  const live = await storedEntries('fil')
  t.same(await visibleIds(page), expected(live, { status: ['5xx'] }), 'live: only the 5xx rows show')
  await page.click('button.pause')
  await app.inject({ url: '/hello', headers: asUser('fil') })
  await app.userlog.flush()
  await page.waitForFunction(() => /1 new entry waiting/.test(document.querySelector('#message')?.textContent ?? ''))
  await setFilter(page, '#view-logs', {})
  await page.click('button.pause')
  await page.waitForFunction(() => document.querySelectorAll('#log tbody tr.entry:not([hidden])').length === 12)
  t.same(await visibleIds(page), (await storedEntries('fil')).map((e) => String(e.id)),
    'cleared: every entry, the held one added on resume, none lost to the filter')

  // The same filter bar on All users.
  await page.click('.tab[data-tab=all]')
  await page.waitForFunction(() => document.querySelector('#all-message')?.textContent === 'Live: all users')
  await setFilter(page, '#view-all', { kind: ['request'], status: ['2xx'] })
  await app.inject({ url: '/boom', headers: asUser('other') })
  await app.inject({ url: '/hello', headers: asUser('other') })
  await app.userlog.flush()
  await page.waitForFunction(() => document.querySelectorAll('#all-log tbody tr.entry').length >= 2)
  const shown = await page.$$eval('#all-log tbody tr.entry:not([hidden]) td.url',
    (tds) => tds.map((td) => td.textContent))
  t.same(shown, ['/hello'], 'all users: the 200 shows, the 500 is hidden')
  t.same(seen.errors, [])
  t.same(seen.dialogs, [])
  await context.close()
})

t.test('a copied link opens the same view with the entry highlighted; a crafted link injects nothing', async (t) => {
  await seed('linked user/é')
  const { context, page, seen } = await adminPage()
  await page.goto(`${origin}/userlog/#user=${encodeURIComponent('linked user/é')}`)
  await page.waitForSelector('#log tbody tr.entry')
  await setFilter(page, '#view-logs', { kind: ['request'], status: ['4xx'] })
  const target = (await visibleIds(page))[0] as string
  await page.click(`#log tbody tr.entry[data-id="${target}"] button.copy-link`)
  const link = await page.evaluate(async () => await navigator.clipboard.readText())
  t.equal(link, `${origin}/userlog/#user=linked+user%2F%C3%A9&kind=request&status=4xx&at=${encodeURIComponent(target)}`)
  t.notOk(await page.isVisible(`#log tbody tr.detail`), 'copying does not open the row')

  const other = await adminPage()
  await other.page.goto(link)
  await other.page.waitForSelector('#log tbody tr.linked')
  t.equal(await other.page.getAttribute('#log tbody tr.linked', 'data-id'), target)
  const focused = await other.page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.id)
  t.equal(focused, target, 'focused')
  t.equal(await other.page.inputValue('#username'), 'linked user/é')
  t.ok(await other.page.isChecked('#view-logs input[name=kind][value=request]'))
  t.ok(await other.page.isChecked('#view-logs input[name=status][value="4xx"]'))
  t.same(await visibleIds(other.page), [target])
  // Enter on the focused row expands it, with milliseconds.
  await other.page.keyboard.press('Enter')
  t.match(await other.page.textContent('#log tbody tr.detail'), /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}/)
  await other.page.screenshot({ path: `${ARTIFACTS}console-linked.png` })
  const audit = await app.inject({ url: '/userlog/api/audit', headers: asAdmin })
  t.match(audit.json<{ entries: Json[] }>().entries[0], { action: 'view', target: 'linked user/é', admin: 'admin' },
    'opening the link is audited as a view')
  await other.context.close()

  // A crafted link: bad values are dropped and said so; nothing from it becomes markup.
  const crafted = await adminPage()
  await crafted.page.goto(`${origin}/userlog/#user=${encodeURIComponent('<img src=x onerror=window.__x=1>')}` +
    '&kind=request,<script>&status=9xx&at=../../etc')
  await crafted.page.waitForSelector('#link-problems:not([hidden])')
  t.match(await crafted.page.textContent('#link-problems'), /kind: unknown kind "<script>".*not a valid entry id/)
  t.equal(await crafted.page.evaluate(() => (window as unknown as { __x?: unknown }).__x), undefined)
  t.equal(await crafted.page.$$eval('main img, main script', (es) => es.length), 0)
  t.same(crafted.seen.errors, [])
  await crafted.context.close()
  t.same(seen.errors, [])
  await context.close()
})

t.test('a failed browser request is joined to its server entry; a page leave says how long', async (t) => {
  await app.inject({ url: '/boom', headers: asUser('joined') })
  await app.userlog.flush()
  const server = (await storedEntries('joined'))[0] as Json
  await events('joined', [
    {
      type: 'request_failed', path: '/shop/cart', method: 'GET', url: '/boom', status: 500, ms: 4,
      requestId: server.reqId
    },
    { type: 'session_end', path: '/shop/items', activeMs: 48_000, pageMs: 72_000 }
  ])
  await app.userlog.flush()
  const [left, failed] = await storedEntries('joined') as [Json, Json]
  const { context, page, seen } = await adminPage()
  await page.goto(`${origin}/userlog/#user=joined`)
  await page.waitForSelector('#log tbody tr.entry a.pair')
  t.equal(await page.textContent(`tr[data-id="${String(left.id)}"] td.kind`), 'Left')
  t.equal(await page.textContent(`tr[data-id="${String(left.id)}"] td.url`),
    '/shop/items after 1 min 12 s (48 s active)')
  const failedRow = `tr[data-id="${String(failed.id)}"]`
  t.ok(await page.$eval(failedRow, (tr) => tr.classList.contains('trouble')), 'a failed request stands out')
  t.match(await page.textContent(`${failedRow} td.url`), /\/boom.*server entry/)
  await page.click(`${failedRow} a.pair`)
  t.equal(await page.getAttribute('#log tbody tr.linked', 'data-id'), String(server.id),
    'its link leads to the server entry')
  t.match(await page.textContent(`tr[data-id="${String(server.id)}"] td.url`), /failed in the browser/)
  t.same(seen.errors, [])
  await context.close()
})

t.test('a reason asked for when watching is kept in the audit record and shown in the Audit tab', async (t) => {
  await seed('reasoned')
  const { context, page, seen } = await adminPage()
  await page.goto(`${origin}/userlog/#user=reasoned`)
  await page.waitForSelector('#log tbody tr.entry')
  await page.check('#ask-reason')
  await page.check('.live-switch')
  await page.waitForSelector('dialog.reason[open]')
  await page.fill('dialog.reason input[name=reason]', 'ticket #4711 <b>')
  await page.click('dialog.reason button[value=ok]')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'Live')
  const audit = await app.inject({ url: '/userlog/api/audit', headers: asAdmin })
  t.match(audit.json<{ entries: Json[] }>().entries[0],
    { action: 'watch', target: 'reasoned', reason: 'ticket #4711 <b>' })
  await page.click('.tab[data-tab=audit]')
  await page.waitForSelector('#audit tbody tr td.reason')
  t.equal(await page.textContent('#audit tbody tr:first-child td.reason'), 'ticket #4711 <b>')

  // Cancelling watches nothing; the setting is remembered.
  await page.reload()
  await page.waitForSelector('#log tbody tr.entry')
  t.ok(await page.isChecked('#ask-reason'), 'the setting survives a reload')
  await page.check('.live-switch')
  await page.click('dialog.reason button[value=cancel]')
  t.notOk(await page.isChecked('.live-switch'), 'cancelled: not live')
  t.same(seen.errors, [])
  await context.close()
})

t.test('presence: active → away → gone while an admin watches, in the badge and Active now, no reload', async (t) => {
  const { context, page, seen } = await adminPage()
  await page.goto(`${origin}/userlog/#user=dora`)
  await page.waitForSelector('#message:text("No logs for dora")')
  await page.check('.live-switch')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'Live')
  const active = await adminPage()
  await active.page.goto(`${origin}/userlog/`)
  await active.page.click('.tab[data-tab=active]')
  await active.page.waitForFunction(() =>
    document.querySelector('#active-status')?.textContent === 'Presence updates live.')

  const customer = await browser.newContext()
  await customer.addCookies([{ name: 'testuser', value: 'dora', url: origin }])
  const shop = await customer.newPage()
  await shop.goto(`${origin}/shop/cart`)
  await page.waitForSelector('#presence .presence[data-state=active]')
  t.match(await page.textContent('#presence'), /Active on \/shop\/cart since \d{4}-\d\d-\d\d/)
  await active.page.waitForFunction(() => [...document.querySelectorAll('#active tbody tr')]
    .some((tr) => tr.querySelector('td')?.textContent === 'dora' && tr.getAttribute('data-state') === 'active'))

  // The tab hidden, as the browser says it when the customer switches tabs.
  await shop.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
    Object.defineProperty(document, 'hidden', { configurable: true, get: () => true })
    document.dispatchEvent(new Event('visibilitychange'))
  })
  await page.waitForSelector('#presence .presence[data-state=away]')
  await active.page.waitForFunction(() => [...document.querySelectorAll('#active tbody tr')]
    .some((tr) => tr.querySelector('td')?.textContent === 'dora' && tr.getAttribute('data-state') === 'away'))

  await shop.close({ runBeforeUnload: true })
  // Gone once the leave is LEAVE_GRACE_MS old with nothing after it: by the clock, not by a new entry.
  await page.waitForSelector('#presence .presence[data-state=gone]', { timeout: presence.LEAVE_GRACE_MS + 10_000 })
  await active.page.waitForFunction(() => [...document.querySelectorAll('#active tbody tr')]
    .some((tr) => tr.querySelector('td')?.textContent === 'dora' && tr.getAttribute('data-state') === 'gone'),
  undefined, { timeout: 15_000 })
  await active.page.screenshot({ path: `${ARTIFACTS}console-active-now.png` })
  t.pass('active, away, then gone, in both views')
  t.same(seen.errors, [])
  t.same(active.seen.errors, [])
  await customer.close()
  await active.context.close()
  await context.close()
})
