// tracker.js in real headless Chromium: page views on load and on history navigation (not on
// query-only changes), heartbeats only while visible and focused, clicks on [data-userlog], the
// public track() API, session_end by beacon on leaving; anonymous visitors; the admin page's
// session summary and heartbeat switch. Waits have deadlines; nothing asserts on timing.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { BrowserContext, Page } from 'playwright-core'
import { RedisServer } from '../helpers/redis.js'
import { userFromHeader } from '../helpers/app.js'
import { launch, watch, ARTIFACTS } from '../helpers/browser.js'
import { userlog, type UserlogOptions } from '../../src/index.js'
import { Keys } from '../../src/shared/keys.js'

type Json = Record<string, unknown>
interface Post { mode: string | undefined, type: string | undefined, status: number, body: unknown }

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script defer src="/userlog/tracker.js" data-heartbeat="0.2"></script></head>
<body>
  <nav><a id="next" href="/app/next">Next</a></nav>
  <button data-userlog="buy">Buy</button>
  <div data-userlog="card"><p><b id="inner">Card</b></p></div>
  <button id="plain">Not tracked</button>
</body></html>`

const redis = await RedisServer.start()
const db = redis.client()
const keys = new Keys('userlog')
const browser = await launch()

/** A host app serving the page above at /app/*, recording every post to /events. */
async function host (options: UserlogOptions): Promise<{ app: FastifyInstance, origin: string, posts: Post[] }> {
  const app = Fastify()
  const posts: Post[] = []
  // Added before the plugin, so it sees the plugin's routes too.
  app.addHook('onResponse', async (req, reply) => {
    if (req.url.startsWith('/userlog/events')) {
      posts.push({
        mode: req.headers['sec-fetch-mode'], type: req.headers['content-type'], status: reply.statusCode, body: req.body
      })
    }
  })
  await app.register(userlog, {
    redis: redis.url,
    getUser: userFromHeader,
    isAdmin: (req) => userFromHeader(req) === 'admin',
    maxEntries: 1000,
    ...options
  })
  app.get('/app/*', async (_req, reply) => await reply.type('text/html; charset=utf-8').send(PAGE))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, posts }
}

const main = await host({})
const anon = await host({ trackAnonymous: true })
t.teardown(async () => {
  await browser.close()
  await main.app.close()
  await anon.app.close()
  db.disconnect()
  await redis.stop()
})

async function logOf (user: string): Promise<Json[]> {
  return (await db.lrange(keys.log(user), 0, -1)).map((s) => JSON.parse(s) as Json).reverse() // oldest first
}

/** Polls (flushing the writer) until `fn` returns something, for at most 20 s. */
async function until<T> (
  app: FastifyInstance, what: string, fn: () => Promise<T | undefined | null | false>
): Promise<T> {
  const deadline = Date.now() + 20_000
  for (;;) {
    await app.userlog.flush()
    const v = await fn()
    if (v !== undefined && v !== null && v !== false) return v
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function entry (user: string, what: string, match: (e: Json) => boolean, app = main.app): Promise<Json> {
  return await until(app, what, async () => (await logOf(user)).find(match))
}

const isMarker = (name: string) => (e: Json): boolean => e.kind === 'interaction' && e.event === name
const clientMs = (e: Json): number => Date.parse(String(e.clientDate))

/** Calls track(name) and waits for it: everything the page queued before it has been sent by then. */
async function marker (page: Page, user: string, name: string): Promise<Json> {
  const sent = await page.evaluate(
    (n) => (window as unknown as { userlog: { track: (n: string) => boolean } }).userlog.track(n), name)
  if (!sent) throw new Error(`track(${name}) was refused`)
  return await entry(user, `marker ${name}`, isMarker(name))
}

/** Heartbeats whose client time lies between two markers. */
async function heartbeatsBetween (user: string, from: Json, to: Json): Promise<number> {
  return (await logOf(user))
    .filter((e) => e.kind === 'heartbeat' && clientMs(e) > clientMs(from) && clientMs(e) < clientMs(to))
    .length
}

/** Lets the page run a while (several heartbeat intervals) by its own clock. */
async function pageWait (page: Page, ms: number): Promise<void> {
  await page.evaluate(async (ms) => await new Promise((resolve) => setTimeout(resolve, ms)), ms)
}

async function userContext (origin: string, user?: string): Promise<BrowserContext> {
  const context = await browser.newContext()
  if (user !== undefined) await context.addCookies([{ name: 'testuser', value: user, url: origin }])
  return context
}

t.test('a browsing session: page views, heartbeats, clicks, track(), session_end by beacon', async (t) => {
  const { origin, posts } = main
  const context = await userContext(origin, 'alice')
  t.teardown(() => context.close())
  const page = await context.newPage()
  const seen = watch(page, [new URL(origin).host])
  await page.goto(`${origin}/app/start?x=1`)

  const first = await entry('alice', 'the first page view', (e) => e.kind === 'pageview')
  t.match(first, { path: '/app/start?x=1', src: 'client', user: 'alice', ip: '127.0.0.1' })
  t.equal(first.ua, undefined, 'the User-Agent is kept by the session (checked below), not by the entry')
  t.equal(first.referrer, undefined, 'no referrer on a direct visit')
  const sid = String(first.sid)

  await until(main.app, 'heartbeats while visible and focused',
    async () => (await logOf('alice')).filter((e) => e.kind === 'heartbeat').length >= 2)

  // Clicks on [data-userlog] (also on a descendant), not elsewhere.
  await page.click('[data-userlog="buy"]')
  await page.click('#inner')
  await page.click('#plain')
  await entry('alice', 'the buy click', (e) => e.kind === 'interaction' && e.element === 'buy')
  const card = await entry('alice', 'the card click', (e) => e.kind === 'interaction' && e.element === 'card')
  t.match(card, { event: 'click', path: '/app/start?x=1' })

  // track() with an element and metadata; bad input is refused in the page, nothing is sent.
  t.equal(await page.evaluate(() => {
    const api = (window as unknown as { userlog: { track: (n: unknown, o?: unknown) => boolean } }).userlog
    return [
      api.track('Bad Name'),
      api.track('ok_name', { metadata: { nested: { a: 1 } } }),
      api.track('video_played', { element: 'intro', metadata: { seconds: 12, hd: true, title: 'Intro' } })
    ].join()
  }), 'false,false,true')
  const video = await entry('alice', 'the custom event', isMarker('video_played'))
  t.match(video, { element: 'intro', metadata: { seconds: 12, hd: true, title: 'Intro' } })

  // A new path by pushState is a page view, with the previous path as referrer.
  await page.evaluate(() => history.pushState({}, '', '/app/next'))
  const next = await entry('alice', 'the pushState page view', (e) => e.kind === 'pageview' && e.path === '/app/next')
  t.equal(next.referrer, '/app/start?x=1')
  // A query-only replaceState is not.
  await page.evaluate(() => history.replaceState({}, '', '/app/next?tab=2'))
  const m1 = await marker(page, 'alice', 'after_replace')
  t.equal(m1.path, '/app/next?tab=2', 'later events carry the new query')
  t.equal((await logOf('alice')).filter((e) => e.kind === 'pageview').length, 2, 'no page view for a query-only change')
  t.notOk((await logOf('alice')).some((e) => e.kind === 'interaction' && e.event === 'ok_name'),
    'refused track() calls sent nothing')
  t.same((await logOf('alice')).filter((e) => e.kind === 'interaction' && e.event === 'click').map((e) => e.element),
    ['buy', 'card'], 'the untracked button sent nothing')

  // Hidden: no heartbeats (visibility emulated by overriding document.visibilityState).
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
    document.dispatchEvent(new Event('visibilitychange'))
  })
  const hiddenFrom = await marker(page, 'alice', 'hidden_from')
  await pageWait(page, 1200)
  const hiddenTo = await marker(page, 'alice', 'hidden_to')
  t.equal(await heartbeatsBetween('alice', hiddenFrom, hiddenTo), 0, 'no heartbeat while hidden')
  await page.evaluate(() => {
    delete (document as unknown as { visibilityState?: string }).visibilityState
    document.dispatchEvent(new Event('visibilitychange'))
  })
  await entry('alice', 'heartbeats again once visible',
    (e) => e.kind === 'heartbeat' && clientMs(e) > clientMs(hiddenTo))

  // Visible but not focused: no heartbeats either.
  await page.evaluate(() => { document.hasFocus = () => false })
  const blurFrom = await marker(page, 'alice', 'blur_from')
  await pageWait(page, 1200)
  const blurTo = await marker(page, 'alice', 'blur_to')
  t.equal(await heartbeatsBetween('alice', blurFrom, blurTo), 0, 'no heartbeat without focus')
  await page.evaluate(() => { delete (document as unknown as { hasFocus?: unknown }).hasFocus })
  await entry('alice', 'heartbeats again once focused', (e) => e.kind === 'heartbeat' && clientMs(e) > clientMs(blurTo))

  // Back (popstate) to the first path: a page view.
  await page.goBack()
  await until(main.app, 'the popstate page view', async () =>
    (await logOf('alice')).filter((e) => e.kind === 'pageview' && e.path === '/app/start?x=1').length === 2)

  // Leaving the page: session_end, sent by sendBeacon as text/plain.
  await page.click('#next')
  const end = await entry('alice', 'session_end', (e) => e.kind === 'session_end')
  t.match(end, { path: '/app/start?x=1', sid, duration: Number })
  const beacon = posts.find((p) => Array.isArray(p.body) && (p.body as Json[]).some((e) => e.type === 'session_end'))
  t.match(beacon, { mode: 'no-cors', type: 'text/plain;charset=UTF-8', status: 204 }, 'a beacon (no-cors), text/plain')
  await entry('alice', 'the next page',
    (e) => e.kind === 'pageview' && e.path === '/app/next' && clientMs(e) > clientMs(end))

  // One session throughout, kept in an HttpOnly cookie scoped to the plugin.
  const log = (await logOf('alice')).filter((e) => e.src === 'client')
  t.same([...new Set(log.map((e) => e.sid))], [sid], 'every event of the visit has the same sid')
  t.ok((await logOf('alice')).some((e) => e.kind === 'request' && e.path === '/app/start?x=1'),
    'beside the server\'s own request entries')
  const cookies = await context.cookies()
  t.match(cookies.find((c) => c.name === 'userlog_sid'),
    { path: '/userlog', httpOnly: true, sameSite: 'Lax', secure: false })
  // Every post was accepted and carried paths, never URLs with a host.
  t.ok(posts.length > 5)
  t.same(posts.filter((p) => p.status !== 204), [], 'no post was refused')
  for (const p of posts) {
    for (const e of (Array.isArray(p.body) ? p.body : [p.body]) as Json[]) t.match(e.path, /^\/app\//)
  }
  t.same(seen.errors, [])
  t.same(seen.foreign, [])

  const sessions = await until(main.app, 'the session summary', async () => {
    const res = await main.app.inject({ url: '/userlog/api/sessions/alice', headers: { 'x-user': 'admin' } })
    return res.json<{ sessions: Json[] }>().sessions
  })
  t.equal(sessions.length, 1)
  t.match(sessions[0], { sid, endedBy: null, pages: 4, landing: '/app/start?x=1', ua: /Chrom/ })
  t.ok(Number(sessions[0]?.last) >= Number(sessions[0]?.start))
})

t.test('the admin page: session summary, interactions with their details, and "Hide heartbeats"', async (t) => {
  const { origin } = main
  const context = await userContext(origin, 'admin')
  t.teardown(() => context.close())
  const page = await context.newPage()
  const seen = watch(page, [new URL(origin).host])
  await page.goto(`${origin}/userlog/#user=alice`)
  await page.waitForSelector('#sessions table tbody tr.session')
  t.equal(await page.$eval('#sessions', (s) => (s as HTMLElement).hidden), false)
  const row = await page.$$eval('#sessions tbody tr.session td', (tds) => tds.map((td) => td.textContent))
  // Open, or ended if closing the other browser context sent its session_end.
  t.match(row, [String, /^\d+ (s|min|h)/, /^(Open, last seen .+|Ended \(page closed\))$/, '4', /^\d+$/, '/app/start?x=1', /Chrom/])
  t.match(await page.$eval('#sessions h2', (h) => h.textContent), 'Browser sessions of alice')

  await page.waitForSelector('#log tbody tr.entry')
  const visibleBeats = async (): Promise<number> => await page.$$eval('#log tbody tr.entry[data-kind="heartbeat"]',
    (rows) => rows.filter((r) => !(r as HTMLElement).hidden).length)
  t.ok(await visibleBeats() > 0, 'heartbeats shown')
  await page.check('#hide-heartbeats')
  t.equal(await visibleBeats(), 0, 'and hidden by the switch')
  t.ok(await page.$$eval('#log tbody tr.entry[data-kind="pageview"]',
    (rows) => rows.every((r) => !(r as HTMLElement).hidden)), 'page views stay')
  await page.click('#toolbar button >> text=Reload')
  await page.waitForSelector('#hide-heartbeats')
  t.equal(await page.isChecked('#hide-heartbeats'), true, 'the switch survives a reload')
  await page.waitForSelector('#log tbody tr.entry')
  t.equal(await visibleBeats(), 0)
  await page.uncheck('#hide-heartbeats')
  t.ok(await visibleBeats() > 0)

  // The custom interaction: kind, element in the URL cell, metadata in the details.
  const video = page.locator('#log tbody tr.entry[data-kind="interaction"]', { hasText: 'video_played' })
  t.equal(await video.locator('td.kind').textContent(), 'Interaction · video_played')
  t.match(await video.locator('td.url').textContent(), '[intro]')
  await video.click()
  const details = await page.$$eval('#log tr.detail dt, #log tr.detail dd', (n) => n.map((x) => x.textContent))
  const at = details.indexOf('metadata')
  t.ok(at !== -1)
  t.same(JSON.parse(String(details[at + 1])), { seconds: 12, hd: true, title: 'Intro' })
  t.ok(details.includes('element') && details.includes('intro'))
  t.ok(details.includes('clientDate'))
  await page.screenshot({ path: `${ARTIFACTS}admin-client-activity.png`, fullPage: true })

  // Another user without sessions: the section goes away.
  await page.fill('#username', 'nobody')
  await page.click('#search button[type=submit]')
  await page.waitForFunction(() => document.querySelector('#message')?.textContent === 'No logs for nobody')
  await page.waitForFunction(() => (document.getElementById('sessions') as HTMLElement).hidden)
  t.same(seen.errors, [])
})

t.test('anonymous visitors: a log per browser when tracked, nothing (and no cookie) when not', async (t) => {
  const [c1, c2, c3] = await Promise.all([userContext(anon.origin), userContext(anon.origin), userContext(main.origin)])
  t.teardown(async () => { await c1.close(); await c2.close(); await c3.close() })
  const p1 = await c1.newPage()
  const p2 = await c2.newPage()
  await p1.goto(`${anon.origin}/app/one`)
  await p2.goto(`${anon.origin}/app/two`)
  const anonUsers = async (): Promise<string[]> =>
    (await db.zrange(keys.usersIndex, '0', '-1')).filter((u) => u.startsWith('anon:'))
  const users = await until(anon.app, 'two anonymous logs', async () => {
    const found = await anonUsers()
    return found.length === 2 ? found : null
  })
  const paths = await Promise.all(users.map(async (u) =>
    (await logOf(u)).filter((e) => e.kind === 'pageview').map((e) => e.path)))
  t.same(paths.flat().sort(), ['/app/one', '/app/two'], 'each browser has its own log')
  // The cookie brings the same browser back to its own log.
  await p1.evaluate(() => history.pushState({}, '', '/app/one/more'))
  const sid1 = String((await c1.cookies()).find((c) => c.name === 'userlog_sid')?.value.split('.')[0])
  await entry(`anon:${sid1}`, 'the second page of browser 1', (e) => e.path === '/app/one/more', anon.app)
  t.equal((await anonUsers()).length, 2)

  // Not tracked: answered, nothing stored, no cookie.
  const before = main.posts.length
  const p3 = await c3.newPage()
  await p3.goto(`${main.origin}/app/quiet`)
  await until(main.app, 'the untracked post', async () => main.posts.slice(before).some((p) => p.status === 204))
  await main.app.userlog.flush()
  t.same((await db.zrange(keys.usersIndex, '0', '-1')).filter((u) => u.startsWith('anon:')).length, 2,
    'no new anonymous log')
  t.equal((await c3.cookies()).some((c) => c.name === 'userlog_sid'), false)
})
