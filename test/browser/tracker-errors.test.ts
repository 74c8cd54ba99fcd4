// tracker.js in real headless Chromium, for what goes wrong in a page: uncaught errors and
// unhandled rejections (at most 5 of one per page view, then a count), failed fetch and XHR calls
// (not aborts, not the tracker's own posts, the page's results unchanged), rage clicks,
// visibility changes, and the active and total time on page sent with session_end. Waits have
// deadlines; the only time bound is a lower one measured by the page's own clock.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import type { AddressInfo } from 'node:net'
import type { BrowserContext, Page } from 'playwright-core'
import { RedisServer } from '../helpers/redis.js'
import { userFromHeader } from '../helpers/app.js'
import { launch, watch } from '../helpers/browser.js'
import { userlog } from '../../src/index.js'
import { Keys } from '../../src/shared/keys.js'

type Json = Record<string, unknown>

const TRACKER = '<script defer src="/userlog/tracker.js" data-heartbeat="0"></script>'
const BODY = `<button id="save" class="primary big">Save</button>
  <div data-userlog="card"><span id="inner">Card</span></div>
  <button id="other">Other</button>`

/** A page: its head's scripts, the fixture script, and the body above. */
const page = (head: string): string => `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Errors</title>
${head}<script src="/static/errors.js"></script></head><body>${BODY}</body></html>`

const PAGES: Record<string, string> = {
  // Loaded twice: the second copy must do nothing.
  app: page(TRACKER + TRACKER),
  plain: page(''),
  off: page('<script defer src="/userlog/tracker.js" data-heartbeat="0" data-errors="false" data-network="false" ' +
    'data-clicks="false"></script>'),
  // The page wraps fetch before the tracker loads, and records each Response it hands on.
  wrapped: page(`<script>
    window.responses = []
    const pageFetch = window.fetch
    window.fetch = function () {
      return pageFetch.apply(this, arguments).then((r) => { window.responses.push(r); return r })
    }
  </script>${TRACKER}`)
}

// Line 2 throws: the error's source and line are known.
const ERRORS_JS = `window.boom = function () {
  throw new Error('boom ?token=secret')
}
window.again = function () { throw new Error('again') }
/** Runs one XHR and lists the events the page sees: type, readyState, status. */
window.xhrEvents = function (url, abort) {
  return new Promise(function (resolve) {
    var seen = []
    var xhr = new XMLHttpRequest()
    var types = ['readystatechange', 'loadstart', 'progress', 'load', 'error', 'abort', 'timeout', 'loadend']
    types.forEach(function (type) {
      xhr['on' + type] = function () { seen.push('on' + type + ':' + xhr.readyState + ':' + xhr.status) }
      xhr.addEventListener(type, function () {
        seen.push(type + ':' + xhr.readyState + ':' + xhr.status)
        if (type === 'loadend') resolve(seen)
      })
    })
    xhr.open('GET', url)
    xhr.send()
    if (abort) xhr.abort()
  })
}
`

const redis = await RedisServer.start()
const db = redis.client()
const keys = new Keys('userlog')
const browser = await launch()

async function host (): Promise<{ app: FastifyInstance, origin: string }> {
  const app = Fastify()
  await app.register(userlog, {
    redis: redis.url, getUser: userFromHeader, maxEntries: 1000, exposeRequestId: true
  })
  app.get('/:kind/*', async (req, reply) => {
    const html = PAGES[(req.params as { kind: string }).kind]
    if (html === undefined) return await reply.code(404).send('no such page')
    return await reply.type('text/html; charset=utf-8').send(html)
  })
  app.get('/static/errors.js', async (_req, reply) => await reply.type('text/javascript').send(ERRORS_JS))
  app.get('/api/ok', async () => 'hello')
  app.route({
    method: ['GET', 'POST'], url: '/api/fail', handler: async (_req, reply) => await reply.code(500).send('broken')
  })
  // Not logged, so its response names no request id.
  app.get('/api/unlogged', { config: { userlog: false } }, async (_req, reply) => await reply.code(503).send('down'))
  app.get('/api/missing', async (_req, reply) => await reply.code(404).send('missing'))
  app.get('/api/slow', async () => { await new Promise((resolve) => setTimeout(resolve, 1500)); return 'slow' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { app, origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}` }
}

const main = await host()
t.teardown(async () => {
  await browser.close()
  await main.app.close()
  db.disconnect()
  await redis.stop()
})

async function logOf (user: string): Promise<Json[]> {
  return (await db.lrange(keys.log(user), 0, -1)).map((s) => JSON.parse(s) as Json).reverse() // oldest first
}

/** Polls (flushing the writer) until an entry matches, for at most 20 s. */
async function entry (user: string, what: string, match: (e: Json) => boolean): Promise<Json> {
  const deadline = Date.now() + 20_000
  for (;;) {
    await main.app.userlog.flush()
    const found = (await logOf(user)).find(match)
    if (found !== undefined) return found
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** Calls track(name) and waits for it: everything the page queued before has been sent by then. */
async function marker (p: Page, user: string, name: string): Promise<void> {
  await p.evaluate((n) => (window as unknown as { userlog: { track: (n: string) => boolean } }).userlog.track(n), name)
  await entry(user, `marker ${name}`, (e) => e.kind === 'interaction' && e.event === name)
}

async function pageWait (p: Page, ms: number): Promise<void> {
  await p.evaluate(async (ms) => await new Promise((resolve) => setTimeout(resolve, ms)), ms)
}

async function userPage (user: string): Promise<{ context: BrowserContext, page: Page }> {
  const context = await browser.newContext()
  await context.addCookies([{ name: 'testuser', value: user, url: main.origin }])
  const p = await context.newPage()
  // A network failure, same-origin: the connection is refused by the browser's router.
  await p.route('**/api/down*', async (route) => { await route.abort('connectionrefused') })
  return { context, page: p }
}

const problems = (log: Json[]): Json[] => log.filter((e) =>
  e.kind === 'error' || e.kind === 'request_failed' || (e.kind === 'interaction' && e.event === 'rage_click'))

/** Everything that goes wrong in the scenario below, from the page. */
async function misbehave (p: Page): Promise<void> {
  await p.evaluate(async () => {
    const w = window as unknown as {
      boom: () => void, again: () => void, xhrEvents: (u: string, a?: boolean) => Promise<string[]>
    }
    setTimeout(w.boom)
    for (let i = 0; i < 8; i++) setTimeout(w.again)
    void Promise.reject(new Error('rejected'))
    // The page replaces fetch after the tracker: still one report per failure.
    const tracked = window.fetch.bind(window)
    window.fetch = async (...args: Parameters<typeof fetch>) => await tracked(...args)
    await fetch('/api/fail?x=1&token=abc', { method: 'post' })
    await fetch('/api/ok')
    await fetch('/api/unlogged')
    await fetch('/api/down').catch(() => {})
    const abort = new AbortController()
    const slow = fetch('/api/slow', { signal: abort.signal })
    abort.abort()
    await slow.catch(() => {})
    await w.xhrEvents('/api/missing')
    await w.xhrEvents('/api/slow', true)
  })
}

t.test('a page that throws, rejects, fails requests and is rage-clicked: exactly those entries', async (t) => {
  const { context, page: p } = await userPage('erin')
  t.teardown(() => context.close())
  const seen = watch(p, [new URL(main.origin).host])
  await p.goto(`${main.origin}/app/shop`)
  await entry('erin', 'the page view', (e) => e.kind === 'pageview')
  await misbehave(p)
  await p.click('#save', { clickCount: 4 }) // one rage click of 4
  await p.click('#inner', { clickCount: 3 }) // the named ancestor's name
  await p.click('#other', { clickCount: 2 }) // not a rage click
  await pageWait(p, 1200)
  await marker(p, 'erin', 'done')

  const log = await logOf('erin')
  t.equal(log.filter((e) => e.kind === 'pageview').length, 1, 'the second tracker copy sent nothing')
  t.notOk(JSON.stringify(log).includes('secret'), 'the token in the message and stack is redacted')
  const got = problems(log)
  const errors = got.filter((e) => e.kind === 'error')
  t.match(errors.find((e) => String(e.message).includes('boom')), {
    src: 'client',
    path: '/app/shop',
    message: 'Uncaught Error: boom ?token=REDACTED',
    source: '/static/errors.js',
    line: 2,
    column: Number,
    stack: /^Error: boom \?token=REDACTED\n\s+at window\.boom \(http:\/\/127\.0\.0\.1:\d+\/static\/errors\.js:2:\d+\)/,
    errorType: 'error'
  })
  t.match(errors.filter((e) => e.errorType === 'unhandledrejection'), [{ message: 'Error: rejected', stack: /rejected/ }])
  const again = errors.filter((e) => e.message === 'Uncaught Error: again')
  t.same(again.map((e) => e.repeat ?? null), [null, null, null, null, null, 3], '5 sent, then a count of the other 3')
  t.match(again[0], { source: '/static/errors.js', line: 4 })
  t.equal(errors.length, 8)

  const failed = got.filter((e) => e.kind === 'request_failed')
  const served = log.filter((e) => e.kind === 'request')
  const reqIdOf = (path: string): unknown => served.find((e) => e.path === path)?.reqId
  t.match(failed, [
    { method: 'POST', url: '/api/fail?x=1&token=REDACTED', status: 500, ms: Number, path: '/app/shop' },
    { method: 'GET', url: '/api/unlogged', status: 503 },
    { method: 'GET', url: '/api/down', status: 0 },
    { method: 'GET', url: '/api/missing', status: 404 }
  ])
  t.equal(failed.length, 4, 'no abort, no success, no post of the tracker\'s own')
  t.equal(failed[0]?.requestId, reqIdOf('/api/fail?x=1&token=REDACTED'), 'fetch: the request id of the server\'s entry')
  t.equal(failed[3]?.requestId, reqIdOf('/api/missing'), 'XHR: the request id of the server\'s entry')
  t.type(failed[0]?.requestId, 'string')
  t.equal(failed[1]?.requestId, undefined, 'no header, no id')
  t.equal(failed[2]?.requestId, undefined, 'no response, no id')

  t.match(got.filter((e) => e.kind === 'interaction'), [
    { event: 'rage_click', element: 'button#save.primary.big', metadata: { count: 4 } },
    { event: 'rage_click', element: 'card', metadata: { count: 3 } }
  ])
  t.equal(got.length, 14)
  t.match(seen.errors, ['boom ?token=secret', ...Array<string>(8).fill('again'), 'rejected'],
    'the page saw its errors as ever')
})

t.test('a page that does none of it, or turns it off: no error, failed request or rage click', async (t) => {
  const { context, page: p } = await userPage('quiet')
  t.teardown(() => context.close())
  await p.goto(`${main.origin}/app/calm`)
  await p.evaluate(async () => { await fetch('/api/ok') })
  await p.click('#save')
  await p.click('#inner')
  await pageWait(p, 1200)
  await marker(p, 'quiet', 'calm_done')

  await p.goto(`${main.origin}/off/shop`)
  await misbehave(p)
  await p.click('#save', { clickCount: 4 })
  await pageWait(p, 1200)
  await marker(p, 'quiet', 'off_done')
  const log = await logOf('quiet')
  t.same(problems(log), [])
  t.notOk(log.some((e) => e.kind === 'interaction' && e.event === 'click' && e.path === '/off/shop'),
    'data-clicks="false": no clicks either')
})

t.test('the page gets the same Response, errors and XHR events with the tracker as without', async (t) => {
  const { context, page: p } = await userPage('frank')
  t.teardown(() => context.close())
  const observe = async (): Promise<unknown> => await p.evaluate(async () => {
    const w = window as unknown as { xhrEvents: (u: string, a?: boolean) => Promise<string[]> }
    const read = async (url: string): Promise<unknown> => {
      try {
        const r = await fetch(url)
        return [r.status, r.ok, r.statusText, r.headers.get('content-type'), await r.text()]
      } catch (err) {
        return [(err as Error).name, (err as Error).message]
      }
    }
    const abort = new AbortController()
    abort.abort()
    const aborted = await fetch('/api/ok', { signal: abort.signal }).catch((err: Error) => err.name)
    return {
      fetches: [
        await read('/api/ok'), await read('/api/fail'), await read('/api/missing'), await read('/api/down'), aborted
      ],
      xhr: [await w.xhrEvents('/api/ok'), await w.xhrEvents('/api/missing'), await w.xhrEvents('/api/down'),
        await w.xhrEvents('/api/slow', true)]
    }
  })
  await p.goto(`${main.origin}/plain/x`)
  const without = await observe()
  await p.goto(`${main.origin}/app/x`)
  const withTracker = await observe()
  t.same(withTracker, without)
  t.match(without, { xhr: [[/readystatechange/]], fetches: [[200, true, 'OK', /text\/plain/, 'hello']] })

  await p.goto(`${main.origin}/wrapped/x`)
  const same = await p.evaluate(async () => {
    const r = await fetch('/api/fail')
    return (window as unknown as { responses: Response[] }).responses.includes(r) && r.status
  })
  t.equal(same, 500, 'the very Response object the page\'s own fetch produced')
  await marker(p, 'frank', 'wrapped_done')
  t.equal((await logOf('frank')).filter((e) => e.kind === 'request_failed' && e.path === '/wrapped/x').length, 1,
    'reported once through the page\'s own wrapper')
})

t.test('visibility changes are entries; session_end has activeMs ≤ pageMs', async (t) => {
  const { context, page: p } = await userPage('gina')
  t.teardown(() => context.close())
  const cdp = await context.newCDPSession(p)
  await cdp.send('Emulation.setFocusEmulationEnabled', { enabled: true })
  await p.goto(`${main.origin}/app/read`)
  await entry('gina', 'the page view', (e) => e.kind === 'pageview')
  const setHidden = async (hidden: boolean): Promise<void> => {
    await p.evaluate((hidden) => {
      if (hidden) Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' })
      else delete (document as unknown as { visibilityState?: string }).visibilityState
      document.dispatchEvent(new Event('visibilitychange'))
    }, hidden)
  }
  await pageWait(p, 300)
  await setHidden(true)
  await pageWait(p, 1000)
  await setHidden(false)
  await marker(p, 'gina', 'back')
  t.match((await logOf('gina')).filter((e) => e.kind === 'visibility'),
    [{ state: 'hidden', path: '/app/read', src: 'client' }, { state: 'visible' }])

  await p.goto(`${main.origin}/app/next`)
  const end = await entry('gina', 'session_end', (e) => e.kind === 'session_end')
  await marker(p, 'gina', 'next_page')
  const order = (await logOf('gina')).filter((e) => e.path === '/app/read' && e.kind !== 'request').map((e) => e.kind)
  t.equal(order[order.length - 1], 'session_end', `the page's last event ends it (${order.join(', ')})`)
  const activeMs = Number(end.activeMs)
  const pageMs = Number(end.pageMs)
  t.ok(Number.isInteger(activeMs) && Number.isInteger(pageMs), `integers: ${activeMs}, ${pageMs}`)
  t.ok(activeMs > 0, 'focused and visible for a while')
  t.ok(activeMs <= pageMs, `activeMs ${activeMs} <= pageMs ${pageMs}`)
  t.ok(pageMs - activeMs >= 990, 'the second spent hidden does not count')
})
