// POST /events and tracker.js against a real redis-server: what is accepted and stored, what is
// refused (and then stores nothing), sessions, anonymous visitors, the admin sessions API.
import t from 'tap'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin, userFromHeader } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'
import { userlog } from '../../src/index.js'
import { summarize } from '../../src/collector/sessions.js'
import { INACTIVITY_MS, ownerTag } from '../../src/collector/sid.js'
import { TRACKER_FILE } from '../../src/collector/routes.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')

const HOST = 'app.test'
const ORIGIN = 'http://app.test'
type Json = Record<string, unknown>

interface PostOptions { headers?: Record<string, string | undefined>, type?: string, user?: string, cookie?: string }

async function post (app: FastifyInstance, payload: unknown, opts: PostOptions = {}): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {
    host: HOST, origin: ORIGIN, 'content-type': opts.type ?? 'application/json', 'user-agent': 'Test/1.0'
  }
  if (opts.user !== undefined) Object.assign(headers, asUser(opts.user))
  if (opts.cookie !== undefined) headers.cookie = opts.cookie
  for (const [k, v] of Object.entries(opts.headers ?? {})) {
    if (v === undefined) delete headers[k]
    else headers[k] = v
  }
  return await app.inject({
    method: 'POST',
    url: '/userlog/events',
    headers,
    payload: typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload)
  })
}

async function logOf (user: string): Promise<Json[]> {
  return (await db.lrange(keys.log(user), 0, -1)).map((s) => JSON.parse(s) as Json)
}

/** Every key but the rate limiter's. */
async function storedKeys (): Promise<string[]> {
  return (await db.keys('*')).filter((k) => !k.startsWith(keys.rateLimit)).sort()
}

/** The session cookie a response set: its value and attributes. */
function sidCookie (res: LightMyRequestResponse): { value: string, attrs: string } | null {
  const raw = res.headers['set-cookie']
  const list = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]
  const line = list.find((c) => c.startsWith('userlog_sid='))
  if (line === undefined) return null
  const [pair = '', ...attrs] = line.split(';')
  return { value: pair.slice('userlog_sid='.length), attrs: attrs.map((a) => a.trim()).join('; ') }
}

const pageview = (path = '/home'): Json => ({ type: 'pageview', path })

t.test('one JSON event and a text/plain batch are stored as client entries with a session', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const date = '2026-01-31T12:00:00.000Z'
  const one = await post(app, { type: 'pageview', path: '/home?tab=2&token=abc', date, referrer: 'https://search.example/?q=x&password=p' }, { user: 'alice' })
  t.equal(one.statusCode, 204)
  t.equal(one.body, '')
  const cookie = sidCookie(one)
  t.ok(cookie, 'the session cookie is set')
  t.match(cookie?.attrs, /Path=\/userlog(;|$)/)
  t.match(cookie?.attrs, /HttpOnly/)
  t.match(cookie?.attrs, /SameSite=Lax/)
  t.notMatch(cookie?.attrs, /Secure/, 'not Secure over http')
  const sid = cookie?.value.split('.')[0] ?? ''
  t.match(sid, /^[A-Za-z0-9_-]{22}$/, '128 random bits')

  const batch = [
    { type: 'heartbeat', path: '/home' },
    {
      type: 'interaction',
      path: '/home',
      event: 'click',
      element: 'buy-button',
      metadata: { plan: 'pro', seats: 3, trial: false, coupon: null }
    },
    { type: 'interaction', path: '/home', event: 'video_played' },
    { type: 'session_end', path: '/home', date: '2026-01-31T13:00:00+01:00' }
  ]
  const two = await post(app, JSON.stringify(batch),
    { user: 'alice', type: 'text/plain;charset=UTF-8', cookie: `userlog_sid=${cookie?.value ?? ''}` })
  t.equal(two.statusCode, 204)
  t.equal(sidCookie(two)?.value.split('.')[0], sid, 'the same session goes on')
  await app.userlog.flush()

  const log = await logOf('alice')
  t.equal(log.length, 5)
  t.same(log.map((e) => e.kind), ['session_end', 'interaction', 'interaction', 'heartbeat', 'pageview'], 'newest first')
  const [end, custom, click, beat, view] = log
  t.match(view, {
    user: 'alice', kind: 'pageview', src: 'client', sid, path: '/home?tab=2&token=REDACTED', ip: '127.0.0.1',
    clientDate: date, referrer: 'https://search.example/?q=x&password=REDACTED'
  })
  t.ok(log.every((e) => !('ua' in e)), 'the User-Agent is kept by the session, not by each entry')
  t.type(view?.id, 'string')
  t.ok(Math.abs(Number(view?.t) - Date.now()) < 60_000, 't is the server time')
  t.equal(view?.method, undefined)
  t.match(beat, { kind: 'heartbeat', src: 'client', sid, path: '/home' })
  t.equal(beat?.clientDate, undefined, 'no clientDate when the client sent no date')
  t.same(click?.metadata, { plan: 'pro', seats: 3, trial: false, coupon: null })
  t.match(click, { kind: 'interaction', event: 'click', element: 'buy-button' })
  t.match(custom, { kind: 'interaction', event: 'video_played' })
  t.match(end, { kind: 'session_end', clientDate: '2026-01-31T12:00:00.000Z', duration: Number })

  const sessions = summarize(await db.hgetall(keys.sessions('alice')), Date.now())
  t.equal(sessions.length, 1)
  t.match(sessions[0],
    { sid, ua: 'Test/1.0', pages: 1, events: 5, landing: '/home?tab=2&token=REDACTED', endedBy: 'session_end' })
  const ttl = await db.ttl(keys.sessions('alice'))
  t.ok(ttl > 86_000 && ttl <= 86_400, `sessions TTL ${ttl}`)
})

t.test('the server time is t; the client cannot set ip, user, t or kind', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const res = await post(app, pageview(),
    { user: 'bob', headers: { 'x-forwarded-for': '203.0.113.9', 'user-agent': 'U'.repeat(2000) } })
  t.equal(res.statusCode, 204)
  for (const field of ['ip', 'user', 't', 'kind', 'id', 'sid', 'src']) {
    const bad = await post(app, { ...pageview(), [field]: 'x' }, { user: 'bob' })
    t.equal(bad.statusCode, 400, field)
    t.match(bad.json<{ message: string }>().message, `body/${field} is not a known field`)
  }
  await app.userlog.flush()
  const [entry, ...rest] = await logOf('bob')
  t.equal(rest.length, 0)
  t.equal(entry?.ip, '127.0.0.1', 'req.ip, not X-Forwarded-For (the host does not trust a proxy)')
  t.equal(entry?.ua, undefined, 'the UA is kept by the session')
  const [session] = summarize(await db.hgetall(keys.sessions('bob')), Date.now())
  t.equal(session?.ua?.length, 512, 'the UA is truncated')
})

// Each row: a name, the body (string = sent as is), the expected status, options, and a part of the message.
const BAD: Array<[string, unknown, number, PostOptions, string | RegExp]> = [
  ['invalid JSON', '{"type":"pageview",', 400, {}, 'body is not valid JSON'],
  ['invalid JSON as text/plain', 'hello', 400, { type: 'text/plain' }, 'body is not valid JSON'],
  ['empty body', '', 400, {}, 'body is empty'],
  ['empty text/plain body', '', 400, { type: 'text/plain;charset=UTF-8' }, 'body is empty'],
  ['a JSON string', '"pageview"', 400, {}, 'body must be an event object or an array'],
  ['a JSON number', '42', 400, {}, 'body must be an event object or an array'],
  ['null', 'null', 400, {}, 'body must be an event object or an array'],
  ['an empty batch', [], 400, {}, 'body must NOT have fewer than 1 items'],
  ['a batch of 51', Array.from({ length: 51 }, () => pageview()), 400, {}, 'body must NOT have more than 50 items'],
  ['missing type', { path: '/' }, 400, {}, 'body/type is required'],
  ['missing path', { type: 'pageview' }, 400, {}, 'body/path is required'],
  ['unknown type', { type: 'purchase', path: '/' }, 400, {},
    'body/type must be one of pageview, heartbeat, interaction, session_end'],
  ['type of the wrong JSON type', { type: 1, path: '/' }, 400, {}, 'body/type must be string'],
  ['path not starting with /', { type: 'pageview', path: 'https://evil.example/x' }, 400, {}, 'body/path must be a path starting with "/"'],
  ['path too long', { type: 'pageview', path: '/' + 'a'.repeat(2048) }, 400, {},
    'body/path must NOT have more than 2048 characters'],
  ['path as a number', { type: 'pageview', path: 7 }, 400, {}, 'body/path must be string'],
  ['referrer too long', { type: 'pageview', path: '/', referrer: 'https://x.example/' + 'a'.repeat(2048) }, 400, {}, 'body/referrer must NOT have more than 2048 characters'],
  ['referrer on a heartbeat', { type: 'heartbeat', path: '/', referrer: '/a' }, 400, {},
    'body/referrer is not allowed for this type of event'],
  ['date not ISO-8601', { type: 'pageview', path: '/', date: 'yesterday' }, 400, {},
    'body/date must be an ISO-8601 date-time'],
  ['date without a zone', { type: 'pageview', path: '/', date: '2026-01-31T12:00:00' }, 400, {},
    'body/date must be an ISO-8601'],
  ['date that does not exist', { type: 'pageview', path: '/', date: '2026-02-31T12:00:00Z' }, 400, {},
    'body/date must be a valid date-time'],
  ['interaction without event', { type: 'interaction', path: '/' }, 400, {}, 'body/event is required'],
  ['bad interaction event name', { type: 'interaction', path: '/', event: 'Click Me' }, 400, {},
    'body/event must be a lower-case name'],
  ['event name too long', { type: 'interaction', path: '/', event: 'a'.repeat(41) }, 400, {},
    'body/event must be a lower-case name'],
  ['event on a page view', { type: 'pageview', path: '/', event: 'click' }, 400, {},
    'body/event is not allowed for this type of event'],
  ['element too long', { type: 'interaction', path: '/', event: 'click', element: 'e'.repeat(201) }, 400, {},
    'body/element must NOT have more than 200 characters'],
  ['metadata not flat', { type: 'interaction', path: '/', event: 'click', metadata: { a: { b: 1 } } }, 400, {},
    'body/metadata/a must be a string of at most 500 characters, a number, a boolean or null'],
  ['metadata an array', { type: 'interaction', path: '/', event: 'click', metadata: [1, 2] }, 400, {},
    'body/metadata must be object'],
  ['metadata with 21 keys', {
    type: 'interaction', path: '/', event: 'click',
    metadata: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`k${i}`, i]))
  }, 400, {},
    'body/metadata must NOT have more than 20 properties'],
  ['metadata string too long', { type: 'interaction', path: '/', event: 'click', metadata: { a: 'x'.repeat(501) } },
    400, {},
    'body/metadata/a must be a string of at most 500'],
  ['metadata key too long', { type: 'interaction', path: '/', event: 'click', metadata: { ['k'.repeat(65)]: 1 } },
    400, {},
    'body/metadata has a key longer than 64 characters'],
  ['deep nesting', '['.repeat(5000) + ']'.repeat(5000), 400, {}, 'body/0 must be object'],
  ['deep nesting in metadata', JSON.stringify({ type: 'interaction', path: '/', event: 'click', metadata: { a: 0 } })
    .replace('0', '['.repeat(3000) + ']'.repeat(3000)), 400, {},
    'body/metadata/a must be a string'],
  ['prototype poisoning', '{"type":"pageview","path":"/","__proto__":{"admin":true}}', 400, {},
    'body is not valid JSON'],
  ['an unknown field', { type: 'pageview', path: '/', title: 'Home' }, 400, {}, 'body/title is not a known field'],
  ['a foreign Origin', pageview(), 403, { headers: { origin: 'https://evil.example' } }, 'origin https://evil.example is not allowed'],
  ['Origin null', pageview(), 403, { headers: { origin: 'null' } }, /not a valid origin|not allowed/],
  ['same host, other port', pageview(), 403, { headers: { origin: 'http://app.test:8080' } }, 'not allowed'],
  ['cross-site without Origin', pageview(), 403, { headers: { origin: undefined, 'sec-fetch-site': 'cross-site' } },
    'without an Origin header'],
  ['form-urlencoded', 'type=pageview&path=/', 415, { type: 'application/x-www-form-urlencoded' },
    /Unsupported Media Type|media type/i],
  ['multipart', '--x\r\n\r\n--x--', 415, { type: 'multipart/form-data; boundary=x' }, /media type/i],
  ['no content type', '{"type":"pageview","path":"/"}', 415, { headers: { 'content-type': undefined } }, /media type/i],
  ['a body over 16 KiB', JSON.stringify({ type: 'pageview', path: '/', pad: 'x'.repeat(17 * 1024) }), 413, {},
    /too large/i],
  ['a batch over 16 KiB',
    JSON.stringify(Array.from({ length: 10 }, () => ({ type: 'pageview', path: '/' + 'a'.repeat(2000) }))), 413, {},
    /too large/i]
]

t.test(`${BAD.length} bad requests: the right 4xx, a JSON error, and nothing stored`, async (t) => {
  const { app } = await buildApp({ redis: redis.url, trackAnonymous: true })
  t.teardown(() => app.close())
  for (const [name, body, status, opts, message] of BAD) {
    for (const user of ['carol', undefined]) {
      const res = await post(app, body, { ...opts, ...(user === undefined ? {} : { user }) })
      const label = `${name} (${user ?? 'anonymous'})`
      t.equal(res.statusCode, status, label)
      t.match(res.headers['content-type'], /application\/json/, label)
      t.match(res.json(), { error: String, message }, label)
      t.equal(sidCookie(res), null, `${label}: no cookie`)
    }
  }
  await app.userlog.flush()
  t.same(await storedKeys(), [], 'no entry, no session, no index, no counter')
})

t.test('a 400 names every bad field, in a batch too', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const res = await post(app, [
    { type: 'pageview', path: '/ok' },
    { type: 'pageview', path: 'nope', date: 'soon' },
    { type: 'interaction', path: '/', metadata: { a: [] } }
  ], { user: 'dave' })
  t.equal(res.statusCode, 400)
  const message = res.json<{ message: string }>().message
  for (const part of [
    'body/1/path must be a path starting with "/"', 'body/1/date must be an ISO-8601', 'body/2/event is required',
    'body/2/metadata/a must be a string'
  ]) {
    t.ok(message.includes(part), part)
  }
  t.notOk(message.includes('body/0'), 'the good event is not blamed')
  t.notOk(message.includes('"if"'), 'no schema internals')
  await app.userlog.flush()
  t.same(await logOf('dave'), [], 'one bad event rejects the whole batch')
})

t.test('origins: same host (with default ports), allowedOrigins, and posts without an Origin', async (t) => {
  const { app } = await buildApp({ redis: redis.url, allowedOrigins: ['https://shop.example'] })
  t.teardown(() => app.close())
  const ok = async (headers: Record<string, string | undefined>): Promise<LightMyRequestResponse> =>
    await post(app, pageview(), { user: 'erin', headers })
  t.equal((await ok({ host: 'app.test:80' })).statusCode, 204, 'a Host with the default port')
  t.equal((await ok({ host: 'app.test:443', origin: 'https://app.test' })).statusCode, 204, 'the default port of the Origin\'s scheme')
  t.equal((await ok({ host: 'app.test:3000', origin: 'http://app.test:3000' })).statusCode, 204)
  t.equal((await ok({ host: 'APP.test', origin: 'http://app.test' })).statusCode, 204, 'host names compare case-insensitively')
  const foreign = await ok({ origin: 'https://shop.example' })
  t.equal(foreign.statusCode, 204, 'an allowed origin')
  t.equal(foreign.headers['access-control-allow-origin'], 'https://shop.example')
  t.equal((await ok({ origin: 'https://shop.example.evil' })).statusCode, 403)
  t.equal((await ok({ origin: undefined })).statusCode, 204, 'no Origin: not a browser post, allowed')
  t.equal((await ok({ origin: undefined, 'sec-fetch-site': 'same-origin' })).statusCode, 204)
  t.equal((await ok({ host: 'other.test' })).statusCode, 403, 'the Origin must match the Host')
  await app.userlog.flush()
  t.equal((await logOf('erin')).length, 7)
})

t.test('anonymous visitors: dropped unless trackAnonymous, then one log per browser', async (t) => {
  const off = await buildApp({ redis: redis.url })
  const res = await post(off.app, [pageview(), { type: 'heartbeat', path: '/home' }])
  t.equal(res.statusCode, 204, 'accepted')
  t.equal(sidCookie(res), null, 'no cookie for an untracked visitor')
  await off.app.userlog.flush()
  await off.app.close()
  t.same(await storedKeys(), [], 'and nothing stored')

  const { app } = await buildApp({ redis: redis.url, trackAnonymous: true })
  t.teardown(() => app.close())
  const a1 = await post(app, pageview('/a'))
  const b1 = await post(app, pageview('/b'))
  const a = sidCookie(a1)?.value ?? ''
  const b = sidCookie(b1)?.value ?? ''
  const sidA = a.split('.')[0] ?? ''
  const sidB = b.split('.')[0] ?? ''
  t.not(sidA, sidB)
  await post(app, { type: 'heartbeat', path: '/a' }, { cookie: `other=1; userlog_sid=${a}` })
  await app.userlog.flush()
  t.same((await logOf(`anon:${sidA}`)).map((e) => [e.kind, e.path, e.user]),
    [['heartbeat', '/a', `anon:${sidA}`], ['pageview', '/a', `anon:${sidA}`]])
  t.same((await logOf(`anon:${sidB}`)).map((e) => e.path), ['/b'])
  t.same(await db.keys('userlog:{None}*'), [])
  t.same(await db.keys('userlog:{anonymous}*'), [], 'never one shared bucket')
  t.equal(summarize(await db.hgetall(keys.sessions(`anon:${sidA}`)), Date.now()).length, 1)
})

t.test('logging in starts a new session and keeps what was recorded before', async (t) => {
  const { app } = await buildApp({ redis: redis.url, trackAnonymous: true })
  t.teardown(() => app.close())
  const anon = sidCookie(await post(app, pageview('/pricing')))?.value ?? ''
  const anonSid = anon.split('.')[0] ?? ''
  const login = await post(app, pageview('/welcome'), { user: 'frank', cookie: `userlog_sid=${anon}` })
  const frankCookie = sidCookie(login)?.value ?? ''
  const frankSid = frankCookie.split('.')[0] ?? ''
  t.not(frankSid, anonSid, 'a session belongs to one user')
  t.equal(frankCookie.split('.')[3], ownerTag('frank'))
  // Logged in as someone else in the same browser: a new session again.
  const grace = sidCookie(await post(app, pageview('/x'), { user: 'grace', cookie: `userlog_sid=${frankCookie}` }))
    ?.value ?? ''
  t.not(grace.split('.')[0], frankSid)
  // And frank again with his cookie: his session goes on.
  const again = sidCookie(await post(app, pageview('/y'), { user: 'frank', cookie: `userlog_sid=${frankCookie}` }))
    ?.value ?? ''
  t.equal(again.split('.')[0], frankSid)
  await app.userlog.flush()
  t.same((await logOf(`anon:${anonSid}`)).map((e) => e.path), ['/pricing'], 'the anonymous log is kept')
  t.same((await logOf('frank')).map((e) => e.path), ['/y', '/welcome'])
  t.equal(await db.exists(keys.sessions(`anon:${anonSid}`)), 1, 'and its session')
})

t.test('sessions: start, last seen, end, reopening, inactivity, and bad cookies', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const first = await post(app, pageview('/a'), { user: 'hana' })
  const cookie = sidCookie(first)?.value ?? ''
  const sid = cookie.split('.')[0] ?? ''
  await app.userlog.flush()
  const h0 = await db.hgetall(keys.sessions('hana'))
  const start = Number(h0[`${sid}:start`])
  t.equal(h0[`${sid}:last`], String(start))
  t.same(summarize(h0, start)[0], {
    sid, start, last: start, end: null, endedBy: null, duration: 0, ua: 'Test/1.0', fields: null, landing: '/a',
    pages: 1, events: 1
  }, 'an open session has a duration (last - start)')

  await new Promise((resolve) => setTimeout(resolve, 20))
  await post(app, { type: 'heartbeat', path: '/a' },
    { user: 'hana', cookie: `userlog_sid=${cookie}`, headers: { 'user-agent': 'Other/2.0' } })
  await app.userlog.flush()
  const h1 = await db.hgetall(keys.sessions('hana'))
  const last = Number(h1[`${sid}:last`])
  t.ok(last > start, 'a heartbeat moves last seen')
  t.equal(h1[`${sid}:start`], String(start), 'and not the start')
  t.equal(h1[`${sid}:ua`], 'Test/1.0', 'the UA is recorded once per session')
  t.match(summarize(h1, last)[0], { endedBy: null, end: null, last })

  await post(app, { type: 'session_end', path: '/a' }, { user: 'hana', cookie: `userlog_sid=${cookie}` })
  await app.userlog.flush()
  const h2 = await db.hgetall(keys.sessions('hana'))
  const ended = summarize(h2, Date.now())[0]
  t.equal(ended?.endedBy, 'session_end')
  t.equal(ended?.end, Number(h2[`${sid}:end`]))
  t.equal(ended?.duration, Math.round(((ended?.end ?? 0) - start) / 1000))
  const [endEntry] = await logOf('hana')
  t.match(endEntry, { kind: 'session_end', sid, duration: Number })

  // The next page of a multi-page site reopens it.
  await post(app, pageview('/b'), { user: 'hana', cookie: `userlog_sid=${cookie}` })
  await app.userlog.flush()
  const h3 = await db.hgetall(keys.sessions('hana'))
  t.match(summarize(h3, Date.now())[0], { sid, endedBy: null, pages: 2, landing: '/a' })
  // Seen from 31 minutes later, it ended by inactivity at its last event.
  const later = summarize(h3, Number(h3[`${sid}:last`]) + INACTIVITY_MS + 60_000)[0]
  t.match(later, { endedBy: 'inactivity', end: Number(h3[`${sid}:last`]) })

  // A cookie whose last post is over 30 minutes old starts a new session.
  const [, start36, , owner] = cookie.split('.')
  const stale = `${sid}.${start36 ?? ''}.${(Date.now() - INACTIVITY_MS - 1000).toString(36)}.${owner ?? ''}`
  const fresh = sidCookie(await post(app, pageview('/c'), { user: 'hana', cookie: `userlog_sid=${stale}` }))
    ?.value ?? ''
  t.not(fresh.split('.')[0], sid)
  t.match(sidCookie(first)?.attrs, /Max-Age=1800/, 'the cookie lapses after 30 minutes of inactivity')
  // Garbage cookies are replaced, never a 4xx or 5xx.
  const future = `${sid}.${start36 ?? ''}.${(Date.now() + 86_400_000).toString(36)}.${owner ?? ''}`
  for (const junk of ['x', 'a.b.c.d', `${sid}.zzzzzzzzzzz.1.${owner ?? ''}`, future, '%%%']) {
    const res = await post(app, pageview('/d'), { user: 'hana', cookie: `userlog_sid=${junk}` })
    t.equal(res.statusCode, 204)
    t.not(sidCookie(res)?.value.split('.')[0], sid, junk)
  }
  await app.userlog.flush()
  t.equal(summarize(await db.hgetall(keys.sessions('hana')), Date.now()).length, 7)
})

t.test('summarize: durations are never negative and an unfinished hash is skipped', async (t) => {
  const now = 10_000_000
  const list = summarize({
    'a:start': '5000', 'a:last': '4000', 'b:ua': 'only a UA', 'c:start': '1000', 'c:last': '61000', 'c:end': '31000',
    junk: '1'
  }, now)
  t.same(list.map((s) => s.sid), ['a', 'c'])
  t.equal(list[0]?.duration, 0)
  t.match(list[1], { endedBy: 'inactivity', end: 61000, duration: 60 },
    'an end before the last event does not end the session')
})

t.test('transform applies to client entries; a throwing transform drops them, never a 500', async (t) => {
  let calls = 0
  const { app } = await buildApp({
    redis: redis.url,
    transform: (entry) => {
      calls++
      if (entry.path === '/boom') throw new Error('boom')
      if (entry.path === '/skip') return null
      return { ...entry, path: String(entry.path).replace(/\/orders\/\d+/, '/orders/:id') }
    }
  })
  t.teardown(() => app.close())
  const posted = await post(app, [pageview('/orders/123'), pageview('/skip'), pageview('/boom')], { user: 'ivan' })
  t.equal(posted.statusCode, 204)
  await app.userlog.flush()
  t.same((await logOf('ivan')).map((e) => e.path), ['/orders/:id'])
  t.equal(calls, 3)
})

t.test('Secure cookie on https; the host\'s own responses never get it', async (t) => {
  const app = Fastify({ trustProxy: true })
  await app.register(userlog, { redis: redis.url, getUser: userFromHeader })
  app.get('/page', async () => 'hi')
  await app.ready()
  t.teardown(() => app.close())
  const res = await post(app, pageview(), { user: 'jo', headers: { 'x-forwarded-proto': 'https', origin: 'https://app.test' } })
  t.equal(res.statusCode, 204)
  t.match(sidCookie(res)?.attrs, /Secure/)
  const page = await app.inject({ url: '/page', headers: asUser('jo') })
  t.equal(page.headers['set-cookie'], undefined)
  t.equal(app.hasRequestDecorator('cookies'), false, 'our cookie plugin stays in the collector scope')
})

t.test('a host with its own @fastify/cookie: ours is not registered again, and it works', async (t) => {
  const app = Fastify()
  await app.register(fastifyCookie, { secret: 'host-secret' })
  await app.register(userlog, { redis: redis.url, getUser: userFromHeader })
  app.post('/echo', async (req) => ({ type: typeof req.body }))
  await app.ready()
  t.teardown(() => app.close())
  const res = await post(app, pageview(), { user: 'kai' })
  t.equal(res.statusCode, 204)
  t.ok(sidCookie(res))
  const text = await app.inject({
    method: 'POST', url: '/echo', headers: { 'content-type': 'text/plain' }, payload: '{"a":1}'
  })
  t.equal(text.json<{ type: string }>().type, 'string', 'the host still parses text/plain as text')
})

t.test('tracker.js: public, cacheable, JavaScript, revalidated by ETag', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/userlog/tracker.js' })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/javascript; charset=utf-8')
  t.match(res.headers['cache-control'], /public, max-age=\d+/)
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(res.body, readFileSync(TRACKER_FILE, 'utf8'))
  const etag = String(res.headers.etag)
  const again = await app.inject({ url: '/userlog/tracker.js', headers: { 'if-none-match': etag } })
  t.equal(again.statusCode, 304)
  t.equal(again.body, '')
  const digest = createHash('sha256').update(readFileSync(TRACKER_FILE)).digest('base64url')
  t.equal(res.headers.etag, `"${digest.slice(0, 16)}"`)
  t.equal((await app.inject({ url: '/userlog/tracker.js', headers: asUser('lee') })).statusCode, 200)
  await app.userlog.flush()
  t.same(await logOf('lee'), [], 'fetching the tracker is not logged')
  t.equal((await app.inject({ url: '/userlog/events' })).statusCode, 404, 'GET /events is not a route')
})

t.test('admin sessions API: admins only, newest first, validated', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const user = 'a/b c:d'
  const c1 = sidCookie(await post(app, [pageview('/one'), { type: 'session_end', path: '/one' }], { user }))
    ?.value ?? ''
  await new Promise((resolve) => setTimeout(resolve, 5))
  await post(app, [pageview('/two'), pageview('/three')], { user })
  await app.userlog.flush()
  const url = `/userlog/api/sessions/${encodeURIComponent(user)}`
  t.equal((await app.inject({ url, headers: asUser('bob') })).statusCode, 403)
  t.equal((await app.inject({ url })).statusCode, 403)
  const res = await app.inject({ url, headers: asAdmin })
  t.equal(res.statusCode, 200)
  const body = res.json<{ user: string, sessions: Json[] }>()
  t.equal(body.user, user)
  t.equal(body.sessions.length, 2)
  t.match(body.sessions[0], { pages: 2, landing: '/two', endedBy: null, ua: 'Test/1.0', duration: 0 })
  t.match(body.sessions[1], { sid: c1.split('.')[0], pages: 1, endedBy: 'session_end' })
  const one = await app.inject({ url: url + '?limit=1', headers: asAdmin })
  t.equal(one.json<{ sessions: Json[] }>().sessions.length, 1)
  t.equal((await app.inject({ url: url + '?limit=0', headers: asAdmin })).statusCode, 400)
  t.equal((await app.inject({ url: url + '?limit=x', headers: asAdmin })).statusCode, 400)
  t.equal((await app.inject({ url: url + '?other=1', headers: asAdmin })).statusCode, 400)
  t.same((await app.inject({ url: '/userlog/api/sessions/nobody', headers: asAdmin })).json(),
    { user: 'nobody', sessions: [] })
  const audit = (await app.inject({ url: '/userlog/api/audit', headers: asAdmin })).json<{ entries: Json[] }>().entries
  t.match(audit.find((e) => e.target === user), { action: 'view', admin: 'admin' }, 'reading sessions is audited')
})

t.test('a throwing getUser makes the post anonymous (warned once), never a 500', async (t) => {
  const { app, logs } = await buildApp({ redis: redis.url, getUser: () => { throw new Error('no session store') } })
  t.teardown(() => app.close())
  for (let i = 0; i < 2; i++) {
    const res = await post(app, pageview())
    t.equal(res.statusCode, 204)
    t.equal(sidCookie(res), null)
  }
  t.equal(logs.filter((l) => String(l.msg).includes('getUser threw on /events')).length, 1)
  t.equal((await post(app, pageview(), { headers: { host: 'bad host', origin: 'http://app.test' } })).statusCode, 403, 'an unparsable Host matches no Origin')
  await app.userlog.flush()
  t.same(await storedKeys(), [])
})
