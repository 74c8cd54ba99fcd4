// The demo app (demo/app.js) against a real Redis: the fake login's signed cookie, what lands in
// each user's log, the admin gate, 404s, and escaping of every user-controlled value.
import t, { type Test } from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { connect, type AddressInfo } from 'node:net'
import { RedisServer } from '../helpers/redis.js'
import { ensureBuilt } from '../helpers/demo-build.js'

await ensureBuilt()
// demo/app.js imports the compiled plugin, so it is loaded after the build.
const { buildDemo, escapeHtml, COOKIE_NAME } = await import('../../demo/app.js')
const { seed, loginCookie } = await import('../../demo/seed.js')

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })

const SECRET = 'demo test cookie secret, 32 chars'
const XSS = '<img src=x onerror=alert(1)>'
const ODD = 'a:b*c{d}?[e] f'

interface LogEntry {
  user: string
  kind: string
  method: string
  path: string
  route: string | null
  status: number
  ip: string
  ua: string
}

async function demo (t: Test, opts: { realtimePort?: number } = {}): Promise<FastifyInstance> {
  await db.flushall()
  const app = await buildDemo({ redisUrl: redis.url, cookieSecret: SECRET, ...opts })
  t.teardown(() => app.close())
  return app
}

function setCookieOf (res: LightMyRequestResponse): string {
  const header = [res.headers['set-cookie'] ?? []].flat().find((c) => c.startsWith(COOKIE_NAME + '='))
  if (header === undefined) throw new Error('no login cookie set')
  return header
}

async function logsOf (app: FastifyInstance, admin: string, user: string): Promise<LogEntry[]> {
  await app.userlog.flush()
  const res = await app.inject({ url: `/userlog/api/logs/${encodeURIComponent(user)}`, headers: { cookie: admin } })
  if (res.statusCode === 404) return []
  if (res.statusCode !== 200) throw new Error(`logs of ${user}: ${res.statusCode} ${res.body}`)
  return res.json<{ entries: LogEntry[] }>().entries
}

t.test('escapeHtml escapes the five HTML-special characters and nothing else', async (t) => {
  t.equal(escapeHtml(`<a href="x" title='y'>&amp;</a>`),
    '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;')
  t.equal(escapeHtml('plain é ✓'), 'plain é ✓')
  t.equal(escapeHtml(42), '42')
})

t.test('login sets a signed, HttpOnly cookie and the user\'s requests land in Redis', async (t) => {
  const app = await demo(t)
  const login = await app.inject({ url: '/login?user=alice' })
  t.equal(login.statusCode, 302)
  t.equal(login.headers.location, '/')
  const header = setCookieOf(login)
  t.match(header, /; HttpOnly/)
  t.match(header, /; SameSite=Lax/)
  t.match(header, /; Path=\//)
  const raw = decodeURIComponent(header.slice(COOKIE_NAME.length + 1).split(';')[0] ?? '')
  t.match(raw, /^alice\.[A-Za-z0-9_-]+$/, 'value and signature')
  t.same(app.unsignCookie(raw), { valid: true, renew: false, value: 'alice' })

  const alice = { cookie: header.split(';')[0] ?? '', 'user-agent': 'test-browser/1.0' }
  const home = await app.inject({ url: '/', headers: alice })
  t.equal(home.statusCode, 200)
  t.match(home.body, 'Logged in as <strong>alice</strong>')
  t.equal((await app.inject({ url: '/items/2', headers: alice })).statusCode, 200)
  const post = await app.inject({
    method: 'POST',
    url: '/items',
    headers: { ...alice, 'content-type': 'application/x-www-form-urlencoded' },
    payload: 'name=Red+pen'
  })
  t.equal(post.statusCode, 303)
  t.equal(post.headers.location, '/items/4')
  const item = await app.inject({ url: '/items/4', headers: alice })
  t.match(item.body, '<h1>Red pen</h1>')
  t.match(item.body, 'added by alice')

  const admin = await loginCookie(app, 'admin')
  const entries = await logsOf(app, admin, 'alice')
  t.same(entries.map((e) => [e.method, e.path, e.status]), [
    ['GET', '/items/4', 200], ['POST', '/items', 303], ['GET', '/items/2', 200], ['GET', '/', 200]
  ], 'newest first, every request')
  t.match(entries[0], { user: 'alice', kind: 'request', route: '/items/:id', ua: 'test-browser/1.0', ip: '127.0.0.1' })
  const users = await app.inject({ url: '/userlog/api/users', headers: { cookie: admin } })
  t.equal(users.statusCode, 200)
  t.same(users.json<{ users: Array<{ user: string }> }>().users.map((u) => u.user), ['alice'],
    'the login itself was anonymous; admin only used the ignored /userlog')
})

t.test('a name with odd characters logs in and is logged under exactly that name', async (t) => {
  const app = await demo(t)
  const cookie = await loginCookie(app, ODD)
  const home = await app.inject({ url: '/about', headers: { cookie } })
  t.match(home.body, `Logged in as <strong>${escapeHtml(ODD)}</strong>`)
  const entries = await logsOf(app, await loginCookie(app, 'admin'), ODD)
  t.same(entries.map((e) => [e.user, e.path]), [[ODD, '/about']])
})

t.test('a tampered or unsigned cookie is anonymous: not logged, not admin', async (t) => {
  const app = await demo(t)
  const cookie = await loginCookie(app, 'bob')
  const signature = cookie.slice(cookie.lastIndexOf('.'))
  const forged = [
    `${COOKIE_NAME}=admin${signature}`, // bob's signature on another name
    cookie.slice(0, -2) + (cookie.endsWith('AA') ? 'BB' : 'AA'), // a changed signature
    `${COOKIE_NAME}=admin`, // no signature
    `${COOKIE_NAME}=admin.`
  ]
  for (const c of forged) {
    const home = await app.inject({ url: '/items', headers: { cookie: c } })
    t.equal(home.statusCode, 200, c)
    t.match(home.body, 'Not logged in', c)
    t.notMatch(home.body, 'Logged in as', c)
    t.equal((await app.inject({ url: '/userlog/api/users', headers: { cookie: c } })).statusCode, 403,
      `${c} is not admin`)
    t.equal((await app.inject({ url: '/userlog/', headers: { cookie: c } })).statusCode, 403, `${c} gets no admin page`)
  }
  const admin = await loginCookie(app, 'admin')
  t.same(await logsOf(app, admin, 'admin'), [], 'nothing logged for the forged admin')
  t.same(await logsOf(app, admin, 'bob'), [], 'nor for bob')
})

t.test('only admin reads logs: non-admins and anonymous visitors get 403', async (t) => {
  const app = await demo(t)
  const bob = await loginCookie(app, 'bob')
  for (const headers of [{ cookie: bob }, {}]) {
    const res = await app.inject({ url: '/userlog/api/users', headers })
    t.equal(res.statusCode, 403)
    t.same(res.json(), { error: 'Forbidden', message: 'Only administrators can read user logs' })
    t.equal((await app.inject({ url: '/userlog/api/logs/bob', headers })).statusCode, 403)
    const page = await app.inject({ url: '/userlog/', headers })
    t.equal(page.statusCode, 403)
    t.match(page.headers['content-type'], /text\/html/)
  }
  const admin = await loginCookie(app, 'admin')
  t.equal((await app.inject({ url: '/userlog/api/users', headers: { cookie: admin } })).statusCode, 200)
  const page = await app.inject({ url: '/userlog/', headers: { cookie: admin } })
  t.equal(page.statusCode, 200)
  t.match(page.headers['content-type'], /text\/html/)
})

t.test('unknown paths answer an HTML 404 and are still logged with status 404', async (t) => {
  const app = await demo(t)
  const cookie = await loginCookie(app, 'carol')
  const res = await app.inject({ url: '/no/such/page?x=1', headers: { cookie } })
  t.equal(res.statusCode, 404)
  t.match(res.headers['content-type'], /^text\/html/)
  t.match(res.body, '<code>/no/such/page</code>')
  t.equal((await app.inject({ url: '/items/999', headers: { cookie } })).statusCode, 404)
  t.equal((await app.inject({ url: '/items/abc', headers: { cookie } })).statusCode, 404)
  t.equal((await app.inject({ method: 'DELETE', url: '/about', headers: { cookie } })).statusCode, 404)
  const entries = await logsOf(app, await loginCookie(app, 'admin'), 'carol')
  t.same(entries.map((e) => [e.method, e.path, e.status]).reverse(), [
    ['GET', '/no/such/page?x=1', 404], ['GET', '/items/999', 404], ['GET', '/items/abc', 404], ['DELETE', '/about', 404]
  ])
})

t.test('user-controlled values are escaped in every page', async (t) => {
  const app = await demo(t)
  const cookie = await loginCookie(app, XSS)
  const pages = [
    await app.inject({ url: '/', headers: { cookie } }),
    await app.inject({ url: '/items', headers: { cookie } }),
    await app.inject({ url: '/about', headers: { cookie } }),
    await app.inject({ url: `/${XSS}`, headers: { cookie } }),
    await app.inject({ url: `/x/${encodeURIComponent(XSS)}"'`, headers: { cookie } })
  ]
  const post = await app.inject({
    method: 'POST', url: '/items', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ name: `"><script>alert(2)</script>` }).toString()
  })
  t.equal(post.statusCode, 303)
  pages.push(await app.inject({ url: String(post.headers.location), headers: { cookie } }))
  pages.push(await app.inject({ url: '/items', headers: { cookie } }))
  for (const page of pages) {
    t.match(page.headers['content-type'], /^text\/html/)
    t.notMatch(page.body, '<img', 'no raw <img')
    t.notMatch(page.body, '<script>alert', 'no injected script')
    t.match(page.body, `Logged in as <strong>${escapeHtml(XSS)}</strong>`)
    t.match(page.headers['content-security-policy'], /script-src 'self'/)
  }
  t.match(pages[3]?.body, escapeHtml(`/${XSS}`), 'the 404 page shows the path as text')
  t.match(pages[5]?.body, '&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;')
  t.match(pages[5]?.body, `added by ${escapeHtml(XSS)}`)
  const entries = await logsOf(app, await loginCookie(app, 'admin'), XSS)
  t.equal(entries[0]?.user, XSS, 'the name is stored as it is')
})

t.test('a raw (not percent-encoded) path with markup is escaped on the 404 page', async (t) => {
  const app = await demo(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const path = '/<img/src=x/onerror=alert(1)>'
  const body = await new Promise<string>((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.end(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`)
    })
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => { data += chunk })
    socket.on('end', () => resolve(data))
    socket.on('error', reject)
  })
  t.match(body, /^HTTP\/1\.1 404 /)
  t.match(body, `<code>${escapeHtml(path)}</code>`)
  t.notMatch(body, '<img')
})

t.test('login needs one name of 1 to 256 characters; logout clears the cookie', async (t) => {
  const app = await demo(t)
  for (const url of ['/login', '/login?user=', '/login?user=a&user=b', `/login?user=${'x'.repeat(257)}`]) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 400, url)
    t.match(res.headers['content-type'], /^text\/html/)
    t.equal(res.headers['set-cookie'], undefined, `${url} sets no cookie`)
  }
  t.equal((await app.inject({ url: `/login?user=${'x'.repeat(256)}` })).statusCode, 302)
  const cookie = await loginCookie(app, 'alice')
  const out = await app.inject({ url: '/logout', headers: { cookie } })
  t.equal(out.statusCode, 302)
  t.equal(out.headers.location, '/')
  t.match(setCookieOf(out), new RegExp(`^${COOKIE_NAME}=;.*Expires=Thu, 01 Jan 1970`))
})

t.test('bad form posts answer 400 in HTML', async (t) => {
  const app = await demo(t)
  const cookie = await loginCookie(app, 'alice')
  const form = { cookie, 'content-type': 'application/x-www-form-urlencoded' }
  for (const payload of ['', 'name=', 'name=%20%20', `name=${'y'.repeat(101)}`, 'other=1']) {
    const res = await app.inject({ method: 'POST', url: '/items', headers: form, payload })
    t.equal(res.statusCode, 400, JSON.stringify(payload))
    t.match(res.headers['content-type'], /^text\/html/)
  }
  const json = await app.inject({
    method: 'POST', url: '/items', headers: { cookie, 'content-type': 'application/json' }, payload: '{'
  })
  t.equal(json.statusCode, 400)
  t.match(json.headers['content-type'], /^text\/html/)
  const big = await app.inject({ method: 'POST', url: '/items', headers: form, payload: 'name=' + 'z'.repeat(5000) })
  t.equal(big.statusCode, 413)
})

t.test('pages link the tracker, the logins and the admin page', async (t) => {
  const app = await demo(t)
  const home = await app.inject({ url: '/' })
  t.match(home.body, '<script defer src="/userlog/tracker.js"></script>')
  for (const href of ['/login?user=alice', '/login?user=bob', '/login?user=admin', '/userlog/', '/items', '/about']) {
    t.match(home.body, `href="${href}"`)
  }
  t.match(home.body, 'Not logged in')
})

t.test('realtimeUrl: the plugin default on port 8080, ws://localhost:PORT/live otherwise', async (t) => {
  const config = async (app: FastifyInstance, host: string): Promise<unknown> => {
    const cookie = await loginCookie(app, 'admin')
    const res = await app.inject({ url: '/userlog/api/config', headers: { host, cookie } })
    return res.json<{ realtimeUrl: unknown }>().realtimeUrl
  }
  const byDefault = await demo(t)
  t.equal(await config(byDefault, 'localhost:3000'), 'ws://localhost:8080/live')
  t.equal(await config(byDefault, '127.0.0.1:3000'), 'ws://127.0.0.1:8080/live', 'follows the page host')
  await byDefault.close()
  const other = await demo(t, { realtimePort: 9123 })
  t.equal(await config(other, '127.0.0.1:3000'), 'ws://localhost:9123/live')
  const cfg = await other.inject({ url: '/userlog/api/config', headers: { cookie: await loginCookie(other, 'admin') } })
  t.equal(cfg.json<{ anonymize: boolean }>().anonymize, true, 'anonymizeSecret is set')
})

t.test('seed: alice, bob and carol have history, including a 404, a POST, a redirect and a 500', async (t) => {
  const app = await demo(t)
  const count = await seed(app)
  t.ok(count >= 30, `${count} requests`)
  const admin = await loginCookie(app, 'admin')
  const users = await app.inject({ url: '/userlog/api/users', headers: { cookie: admin } })
  t.same(users.json<{ users: Array<{ user: string }> }>().users.map((u) => u.user).sort(), ['alice', 'bob', 'carol'])
  const all = [
    ...await logsOf(app, admin, 'alice'), ...await logsOf(app, admin, 'bob'), ...await logsOf(app, admin, 'carol')
  ]
  t.ok(all.length >= 25)
  const statuses = new Set(all.map((e) => e.status))
  for (const s of [200, 302, 303, 400, 404, 500]) t.ok(statuses.has(s), `a ${s}`)
  t.ok(all.some((e) => e.method === 'POST'))
  t.ok(all.some((e) => e.path === '/search?q=lamp&token=REDACTED'), 'the secret query value is not stored')
  t.ok(all.every((e) => !e.path.includes('not-stored')))
})

t.test('the single-page app and the tracker are part of every page', async (t) => {
  const app = await demo(t)
  for (const url of ['/spa', '/spa/settings', '/spa/help']) {
    const res = await app.inject({ url })
    t.equal(res.statusCode, 200, url)
    t.match(res.body, /<script defer src="\/spa\.js"><\/script>/)
    t.match(res.body, /<script defer src="\/userlog\/tracker\.js"><\/script>/)
    t.match(res.body, /data-userlog="sort-toggle"/)
  }
  const js = await app.inject({ url: '/spa.js' })
  t.match(js.headers['content-type'], /javascript/)
  t.match(js.body, /history\.pushState/)
  const tracker = await app.inject({ url: '/userlog/tracker.js' })
  t.equal(tracker.statusCode, 200, 'the plugin serves the tracker the pages load')
})

t.test('the Trouble page is served and linked, with its script and a route that answers 500', async (t) => {
  const app = await demo(t)
  const page = await app.inject({ url: '/trouble' })
  t.equal(page.statusCode, 200)
  for (const id of ['trouble-throw', 'trouble-fail', 'trouble-missing', 'trouble-dead']) {
    t.match(page.body, `id="${id}"`)
  }
  t.match(page.body, /<script defer src="\/trouble\.js"><\/script>/)
  t.match((await app.inject({ url: '/' })).body, '<a href="/trouble">Trouble</a>', 'linked from the nav')
  const js = await app.inject({ url: '/trouble.js' })
  t.match(js.headers['content-type'], /javascript/)
  t.match(js.body, 'fetch(url')
  const fail = await app.inject({ url: '/api/demo/fail' })
  t.equal(fail.statusCode, 500)
  t.same(fail.json(), { error: 'Internal Server Error', message: 'this request fails on purpose' })
  t.equal((await app.inject({ url: '/api/demo/missing' })).statusCode, 404)
})
