// POST /events for the event types beside page views: visibility, error, request_failed, the
// rage_click interaction and session_end's time on page. What is stored (URLs and error text
// redacted), what is refused (a 400 naming every bad field, nothing stored), their CSV columns;
// and the exposeRequestId option: the header equals the stored reqId, and is absent otherwise.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin, userFromHeader } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'
import { CSV_COLUMNS } from '../../src/report/csv.js'
import { KNOWN_INTERACTIONS, MAX_DURATION_MS } from '../../src/collector/schema.js'
import { redactText } from '../../src/collector/redact.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')
type Json = Record<string, unknown>

async function post (app: FastifyInstance, payload: unknown, user?: string): Promise<LightMyRequestResponse> {
  return await app.inject({
    method: 'POST',
    url: '/userlog/events',
    headers: {
      host: 'app.test', origin: 'http://app.test', 'content-type': 'application/json',
      ...(user === undefined ? {} : asUser(user))
    },
    payload: JSON.stringify(payload)
  })
}

/** Oldest first. */
async function logOf (user: string): Promise<Json[]> {
  return (await db.lrange(keys.log(user), 0, -1)).map((s) => JSON.parse(s) as Json).reverse()
}

const visibility = { type: 'visibility', path: '/p', state: 'hidden' }
const error = {
  type: 'error',
  path: '/p?token=t1',
  message: 'Uncaught Error: failed loading https://api.example/x?token=secret&page=2',
  source: '/app.js?v=3&token=abc',
  line: 12,
  column: 5,
  stack: 'Error: failed\n    at load (http://app.test/app.js?v=3&token=abc:12:5)\n    at https://cdn.example/lib.js:1:99',
  errorType: 'error',
  repeat: 7
}
const failed = {
  type: 'request_failed', path: '/p', method: 'POST', url: '/api/save?id=1&password=hunter2', status: 500, ms: 35,
  requestId: 'req-1'
}
const rage = {
  type: 'interaction', path: '/p', event: 'rage_click', element: 'button#save.primary', metadata: { count: 4 }
}
const end = { type: 'session_end', path: '/p', activeMs: 1200, pageMs: 5000 }

t.test('the new types: stored with their own fields, URLs and error text redacted, seen by transform', async (t) => {
  const seen: string[] = []
  const { app } = await buildApp({
    redis: redis.url,
    transform: (entry) => { seen.push(String(entry.kind)); return { ...entry, tenant: 'acme' } }
  })
  t.teardown(() => app.close())
  const rejected = { ...error, errorType: 'unhandledrejection', repeat: undefined }
  const res = await post(app, [visibility, error, rejected, failed, rage, end], 'alice')
  t.equal(res.statusCode, 204, res.body)
  await app.userlog.flush()
  const [vis, err, rejection, req, click, last] = await logOf('alice')
  const client = { src: 'client', user: 'alice', tenant: 'acme', sid: String, ip: '127.0.0.1' }
  t.match(vis, { ...client, kind: 'visibility', state: 'hidden' })
  t.match(err, {
    ...client,
    kind: 'error',
    path: '/p?token=REDACTED',
    message: 'Uncaught Error: failed loading https://api.example/x?token=REDACTED&page=2',
    source: '/app.js?v=3&token=REDACTED',
    line: 12,
    column: 5,
    stack: 'Error: failed\n    at load (http://app.test/app.js?v=3&token=REDACTED:12:5)\n    at https://cdn.example/lib.js:1:99',
    errorType: 'error',
    repeat: 7
  })
  t.notOk(JSON.stringify(await logOf('alice')).includes('secret'), 'no secret stored anywhere')
  t.notOk(JSON.stringify(await logOf('alice')).includes('hunter2'))
  t.match(rejection, { kind: 'error', errorType: 'unhandledrejection' })
  t.equal(rejection?.repeat, undefined)
  t.match(req, {
    ...client, kind: 'request_failed', method: 'POST', url: '/api/save?id=1&password=REDACTED', status: 500, ms: 35,
    requestId: 'req-1'
  })
  t.match(click, { kind: 'interaction', event: 'rage_click', element: 'button#save.primary', metadata: { count: 4 } })
  t.match(last, { kind: 'session_end', activeMs: 1200, pageMs: 5000, duration: Number })
  t.same(seen, ['visibility', 'error', 'error', 'request_failed', 'interaction', 'session_end'])
  t.ok((KNOWN_INTERACTIONS as readonly string[]).includes('rage_click'))
})

t.test('redactText: each URL of a text, a stack frame keeps its line and column', async (t) => {
  const names = new Set(['token', 'code'])
  t.equal(redactText('no query here', names), 'no query here')
  t.equal(redactText('bad ?token=x', names), 'bad ?token=REDACTED')
  t.equal(redactText('"/a?code=1&b=2" and (/c?token=3:4:5)', names),
    '"/a?code=REDACTED&b=2" and (/c?token=REDACTED:4:5)')
  t.equal(redactText('?token=x', new Set()), '?token=x', 'nothing to redact')
})

// Each row: a name, one bad event, and every part the message must hold.
const BAD: Array<[string, Json, string[]]> = [
  ['visibility without state', { type: 'visibility', path: '/' }, ['body/state is required']],
  ['visibility, bad state and an unknown field', { type: 'visibility', path: '/', state: 'gone', tab: 1 },
    ['body/state must be one of hidden, visible', 'body/tab is not a known field']],
  ['visibility with an error field', { type: 'visibility', path: '/', state: 'hidden', message: 'x' },
    ['body/message is not allowed for this type of event']],
  ['error without message or errorType', { type: 'error', path: '/' },
    ['body/message is required', 'body/errorType is required']],
  ['error, every field bad', {
    type: 'error',
    path: '/',
    message: 'm'.repeat(1001),
    source: 's'.repeat(2049),
    line: -1,
    column: 1.5,
    stack: 'x'.repeat(4001),
    errorType: 'warning',
    repeat: 0
  }, [
    'body/message must NOT have more than 1000 characters', 'body/source must NOT have more than 2048 characters',
    'body/line must be >= 0', 'body/column must be integer', 'body/stack must NOT have more than 4000 characters',
    'body/errorType must be one of error, unhandledrejection', 'body/repeat must be >= 1'
  ]],
  ['error with a request field', { type: 'error', path: '/', message: 'x', errorType: 'error', status: 500 },
    ['body/status is not allowed for this type of event']],
  ['request_failed without its fields', { type: 'request_failed', path: '/' },
    ['body/method is required', 'body/url is required', 'body/status is required']],
  ['request_failed, every field bad', {
    type: 'request_failed', path: '/', method: 'get it', url: 'u'.repeat(2049), status: 1000, ms: -3,
    requestId: 'a b'
  }, [
    'body/method must be an upper-case HTTP method', 'body/url must NOT have more than 2048 characters',
    'body/status must be <= 999', 'body/ms must be >= 0', 'body/requestId must be printable ASCII'
  ]],
  ['request_failed, strings for numbers', { type: 'request_failed', path: '/', method: 'GET', url: '/', status: '500' },
    ['body/status must be integer']],
  ['request_failed, request id too long', {
    type: 'request_failed', path: '/', method: 'GET', url: '/', status: 404, requestId: 'r'.repeat(129)
  }, ['body/requestId must NOT have more than 128 characters']],
  ['session_end, bad durations', { type: 'session_end', path: '/', activeMs: MAX_DURATION_MS + 1, pageMs: 'long' },
    [`body/activeMs must be <= ${MAX_DURATION_MS}`, 'body/pageMs must be integer']],
  ['time on a page view', { type: 'pageview', path: '/', activeMs: 1 }, ['body/activeMs is not allowed']],
  ['rage_click with a bad element', { ...rage, element: 'e'.repeat(201) },
    ['body/element must NOT have more than 200 characters']]
]

t.test(`${BAD.length} bad events of the new types: 400 naming every bad field, nothing stored`, async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  for (const [name, event, parts] of BAD) {
    const res = await post(app, event, 'bob')
    t.equal(res.statusCode, 400, name)
    const message = res.json<{ message: string }>().message
    for (const part of parts) t.ok(message.includes(part), `${name}: ${part} (got: ${message})`)
    t.equal(message.split('; ').length, parts.length, `${name}: nothing else is blamed (got: ${message})`)
  }
  // In a batch, the index names the event.
  const batch = await post(app, [visibility, { type: 'error', path: '/' }], 'bob')
  t.match(batch.json(), { message: /body\/1\/message is required/ })
  await app.userlog.flush()
  t.same(await logOf('bob'), [], 'nothing stored')
})

t.test('anonymous posts of the new types are dropped unless trackAnonymous', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  t.equal((await post(app, [error, failed])).statusCode, 204)
  await app.userlog.flush()
  t.same((await db.keys('*')).filter((k) => !k.startsWith(keys.rateLimit)), [], 'nothing but the rate counter')
  const anon = await buildApp({ redis: redis.url, trackAnonymous: true })
  t.teardown(() => anon.app.close())
  t.equal((await post(anon.app, [error, failed])).statusCode, 204)
  await anon.app.userlog.flush()
  const users = (await db.zrange(keys.usersIndex, '0', '-1')).filter((u) => u.startsWith('anon:'))
  t.equal(users.length, 1)
  t.same((await logOf(users[0] as string)).map((e) => e.kind), ['error', 'request_failed'])
})

t.test('CSV export: the new fields are columns at the end, formulas neutralised', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const added = ['message', 'source', 'line', 'column', 'errorType', 'stack', 'repeat', 'url', 'requestId', 'state',
    'activeMs', 'pageMs', 'durationMs', 'code', 'received', 'sent']
  t.same(CSV_COLUMNS.slice(-added.length), added, 'after every earlier column')
  t.equal(CSV_COLUMNS.indexOf('extra'), CSV_COLUMNS.length - added.length - 1, 'the earlier columns keep their places')
  await post(app, [{ ...error, message: '=HYPERLINK("http://evil")', repeat: undefined }, failed], 'carol')
  await app.userlog.flush()
  const res = await app.inject({ url: '/userlog/api/logs/carol/export?format=csv', headers: asAdmin })
  t.equal(res.statusCode, 200)
  const [header, errorRow, failedRow] = res.body.split('\r\n')
  t.equal(header, CSV_COLUMNS.join(','))
  const col = (name: string): number => CSV_COLUMNS.indexOf(name as typeof CSV_COLUMNS[number])
  // The cells holding no comma or quote split plainly.
  t.match(errorRow, `,"'=HYPERLINK(""http://evil"")",/app.js?v=3&token=REDACTED,12,5,error,`)
  const cells = (failedRow ?? '').split(',')
  t.equal(cells.length, CSV_COLUMNS.length)
  t.equal(cells[col('url')], '/api/save?id=1&password=REDACTED')
  t.equal(cells[col('requestId')], 'req-1')
  t.equal(cells[col('status')], '500')
  t.equal(cells[col('extra')], '', 'nothing of theirs left for extra')
})

// --- exposeRequestId ------------------------------------------------------------------------------

t.test('exposeRequestId: the header is the stored reqId of logged requests, and only theirs', async (t) => {
  const { app } = await buildApp({ redis: redis.url, exposeRequestId: true, allowedOrigins: ['https://shop.example'] })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/hello?x=1', headers: asUser('erin') })
  const header = res.headers['x-userlog-request-id']
  t.type(header, 'string')
  const notFound = await app.inject({ url: '/nowhere', headers: asUser('erin') })
  t.type(notFound.headers['x-userlog-request-id'], 'string', 'a 404 is logged too')
  await app.userlog.flush()
  const stored = await logOf('erin')
  t.same(stored.map((e) => e.reqId), [header, notFound.headers['x-userlog-request-id']], 'equal to the entries\' reqId')
  t.equal(res.headers['access-control-expose-headers'], undefined, 'no Origin: nothing to expose')

  for (const [what, opts] of [
    ['an anonymous request', { url: '/hello' }],
    ['a route with userlog: false', { url: '/quiet', headers: asUser('erin') }],
    ['an ignored path', { url: '/favicon.ico', headers: asUser('erin') }],
    ['the plugin\'s own routes', { url: '/userlog/tracker.js', headers: asUser('erin') }]
  ] as const) {
    const r = await app.inject(opts)
    t.equal(r.headers['x-userlog-request-id'], undefined, what)
  }

  const allowed = await app.inject({ url: '/hello', headers: { ...asUser('erin'), origin: 'https://shop.example' } })
  t.equal(allowed.headers['access-control-expose-headers'], 'x-userlog-request-id', 'readable by a listed origin')
  const other = await app.inject({ url: '/hello', headers: { ...asUser('erin'), origin: 'https://evil.example' } })
  t.type(other.headers['x-userlog-request-id'], 'string')
  t.equal(other.headers['access-control-expose-headers'], undefined, 'not exposed to an unlisted origin')
})

t.test('exposeRequestId keeps the host\'s exposed headers', async (t) => {
  const { app } = await buildApp({ redis: redis.url, exposeRequestId: true, allowedOrigins: ['https://shop.example'] },
    (host) => {
      host.get('/cors', async (_req, reply) => {
        reply.header('access-control-expose-headers', 'x-total')
        return 'ok'
      })
    })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/cors', headers: { ...asUser('fay'), origin: 'https://shop.example' } })
  t.equal(res.headers['access-control-expose-headers'], 'x-total, x-userlog-request-id')
})

t.test('exposeRequestId asks the host\'s getUser once per request, as without it', async (t) => {
  const asked: string[] = []
  const { app } = await buildApp({
    redis: redis.url,
    exposeRequestId: true,
    getUser: (req) => { asked.push(req.url); return userFromHeader(req) }
  })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/hello?once=1', headers: asUser('hal') })
  t.type(res.headers['x-userlog-request-id'], 'string')
  await app.userlog.flush()
  t.same(asked.filter((u) => u === '/hello?once=1'), ['/hello?once=1'], 'one call for the header and the entry')
  t.equal((await logOf('hal')).length, 1)
})

t.test('exposeRequestId off (the default): no header', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const res = await app.inject({ url: '/hello', headers: asUser('gus') })
  t.equal(res.headers['x-userlog-request-id'], undefined)
  await app.userlog.flush()
  t.equal((await logOf('gus')).length, 1, 'the request is logged all the same')
})

t.test('exposeRequestId must be a boolean', async (t) => {
  await t.rejects(buildApp({ redis: redis.url, exposeRequestId: 'yes' as unknown as boolean }),
    { code: 'FST_USERLOG_OPTION', message: /option "exposeRequestId" must be a boolean \(got "yes"\)/ })
})
