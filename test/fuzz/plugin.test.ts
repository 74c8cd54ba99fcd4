// Property-based fuzzing of the plugin's HTTP surface: whatever arrives, the answer is a 2xx or
// 4xx, never a 5xx, and a rejected request stores nothing (rate-limit counters aside).
// USERLOG_FUZZ_RUNS sets the inputs per target (1,000 here; `make fuzz` runs 10,000).
import t from 'tap'
import fc from 'fast-check'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asAdmin, asUser } from '../helpers/app.js'

const RUNS = Number(process.env.USERLOG_FUZZ_RUNS ?? 1000)
const redis = await RedisServer.start()
const db = redis.client()
const { app } = await buildApp({ redis: redis.url })
t.teardown(async () => { await app.close(); db.disconnect(); await redis.stop() })

/** Keys other than the rate limiter's. */
async function storedKeys (): Promise<string[]> {
  return (await db.keys('*')).filter((k) => !k.startsWith('userlog:{rl}:')).sort()
}

// Anything: strings, JSON of any shape, and event-like objects with any field values.
const event = fc.record({
  type: fc.oneof(fc.constantFrom('pageview', 'heartbeat', 'interaction', 'session_end'), fc.string()),
  path: fc.oneof(fc.string(), fc.webPath(), fc.constant('/')),
  date: fc.option(fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
    { nil: undefined }),
  event: fc.option(fc.string(), { nil: undefined }),
  element: fc.option(fc.string(), { nil: undefined }),
  metadata: fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: undefined })
}, { requiredKeys: [] })

// Events the schema accepts, with hostile text wherever text is allowed: the accepted path is
// fuzzed too, not only the refusals.
const text = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'grapheme', maxLength })
const date = fc.date({
  min: new Date('2000-01-01T00:00:00Z'), max: new Date('2099-12-31T23:59:59Z'), noInvalidDate: true
}).map((d) => d.toISOString())
const common = { path: text(80).map((p) => '/' + p), date: fc.option(date, { nil: undefined }) }
const validEvent = fc.oneof(
  fc.record({ type: fc.constant('pageview'), ...common, referrer: fc.option(text(120), { nil: undefined }) },
    { requiredKeys: ['type', 'path'] }),
  fc.record({ type: fc.constantFrom('heartbeat', 'session_end'), ...common }, { requiredKeys: ['type', 'path'] }),
  fc.record({
    type: fc.constant('interaction'),
    ...common,
    event: fc.stringMatching(/^[a-z][a-z0-9_]{0,39}$/),
    element: fc.option(text(60), { nil: undefined }),
    metadata: fc.option(
      fc.dictionary(text(20), fc.oneof(text(60), fc.double(), fc.boolean(), fc.constant(null)), { maxKeys: 5 }),
      { nil: undefined })
  }, { requiredKeys: ['type', 'path', 'event'] })
)

const body = fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)), event.map((e) => JSON.stringify(e)),
  fc.array(event, { maxLength: 60 }).map((es) => JSON.stringify(es)),
  validEvent.map((e) => JSON.stringify(e)),
  fc.array(validEvent, { minLength: 1, maxLength: 20 }).map((es) => JSON.stringify(es)))

/** Entries a post would add: one per event when the body is an event or a batch of them. */
function eventCount (payload: string): number {
  const value: unknown = JSON.parse(payload)
  return Array.isArray(value) ? value.length : 1
}

t.test('POST /events: only 2xx/4xx, an accepted post stores its events, a rejected one stores nothing', async (t) => {
  let rejected = 0
  let accepted = 0
  // Many users, so that the per-user rate limit (120 posts a minute) leaves most valid posts through.
  const user = fc.option(fc.integer({ min: 0, max: 999 }).map((i) => `fuzz${i}`), { nil: undefined })
  const contentType = fc.constantFrom('application/json', 'text/plain', 'text/plain;charset=UTF-8',
    'application/x-www-form-urlencoded')
  await fc.assert(fc.asyncProperty(
    body, contentType, user, async (payload, type, name) => {
      await app.userlog.flush() // what earlier accepted posts buffered must not count against this one
      const before = await storedKeys()
      const written = app.userlog.stats().written
      const headers = { 'content-type': type, ...(name !== undefined ? asUser(name) : {}) }
      const res = await app.inject({ method: 'POST', url: '/userlog/events', payload, headers })
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${JSON.stringify(payload).slice(0, 200)}`)
      await app.userlog.flush()
      if (res.statusCode < 300) {
        accepted++
        // Anonymous visitors are not tracked by default: their posts are answered and dropped.
        const expected = name === undefined ? 0 : eventCount(payload)
        const added = app.userlog.stats().written - written
        if (added !== expected) throw new Error(`an accepted post of ${expected} events wrote ${added} entries`)
      }
      if (res.statusCode >= 400 || name === undefined) {
        if (res.statusCode >= 400) rejected++
        const after = await storedKeys()
        if (after.join('\n') !== before.join('\n')) {
          throw new Error(`a ${res.statusCode} post stored ${after.filter((k) => !before.includes(k)).join(', ')}`)
        }
        if (res.headers['set-cookie'] !== undefined) throw new Error(`a ${res.statusCode} post set a cookie`)
      }
    }), { numRuns: RUNS })
  t.ok(rejected > RUNS / 10, `${rejected} of ${RUNS} posts rejected, none with a 5xx, none stored anything`)
  t.ok(accepted > RUNS / 10, `${accepted} of ${RUNS} posts accepted, each stored exactly its events`)
})

const segment = fc.oneof(fc.string(), fc.string().map(encodeURIComponent),
  fc.constantFrom('%', '%E0%A4%A', '..', '%2F', '*', ''))
// Values from anything to plausible, so that many requests pass validation and reach a handler.
const queryValue = fc.oneof(fc.string(), fc.integer().map(String), fc.integer({ min: 1, max: 100 }).map(String),
  fc.constantFrom('csv', 'json', 'ndjson', 'true', 'false', 'alice', ''))
const queryName = fc.constantFrom('q', 'limit', 'minutes', 'days', 'format', 'anonymize', 'x')
const query = fc.oneof(fc.constant({}), fc.dictionary(queryName, queryValue, { maxKeys: 3 }))
  .map((d) => new URLSearchParams(d).toString())

t.test('admin API: random paths and query strings answer 2xx/4xx', async (t) => {
  // Each route with its own method, and now and then a method it does not have (404).
  const routes: Array<['GET' | 'DELETE' | 'POST', string]> = [
    ['GET', '/userlog/api/users'], ['GET', '/userlog/api/active'], ['GET', '/userlog/api/report'],
    ['GET', '/userlog/api/audit'], ['GET', '/userlog/api/export'], ['GET', '/userlog/api/logs/'],
    ['GET', '/userlog/api/sessions/'], ['DELETE', '/userlog/api/users/'], ['POST', '/userlog/api/token']
  ]
  const anyMethod = fc.constantFrom('GET' as const, 'DELETE' as const, 'POST' as const)
  const route = fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...routes) },
    { weight: 1, arbitrary: fc.tuple(anyMethod, fc.constantFrom(...routes.map(([, path]) => path))) })
  let answered = 0 // admin requests that reached a handler and got data or a 2xx
  await fc.assert(fc.asyncProperty(route, segment, query, fc.boolean(),
    async ([method, path], seg, qs, admin) => {
      const url = (path.endsWith('/') ? path + seg.replace(/[?#]/g, '') : path) + (qs === '' ? '' : `?${qs}`)
      const res = await app.inject({
        method,
        url,
        headers: admin ? asAdmin : asUser('someone'),
        ...(method === 'POST' ? { payload: { user: seg } } : {})
      })
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${method} ${url}: ${res.body.slice(0, 200)}`)
      // A malformed URL is refused (400) by the router before any hook; nothing else reaches a non-admin.
      if (!admin && res.statusCode < 400) throw new Error(`non-admin got ${res.statusCode} for ${method} ${url}`)
      if (admin && res.statusCode < 300) answered++
    }), { numRuns: RUNS })
  t.ok(answered > RUNS / 20,
    `${RUNS} admin requests (${answered} answered 2xx), none with a 5xx, none answered a non-admin with data`)
})
