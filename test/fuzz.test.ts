// Property-based fuzzing of the plugin's HTTP surface: whatever arrives, the answer is a 2xx or
// 4xx, never a 5xx, and a rejected request stores nothing (rate-limit counters aside).
// USERLOG_FUZZ_RUNS sets the inputs per target (1,000 here; `make fuzz` runs 10,000).
import t from 'tap'
import fc from 'fast-check'
import { RedisServer } from './helpers/redis.js'
import { buildApp, asAdmin, asUser } from './helpers/app.js'

const RUNS = Number(process.env.USERLOG_FUZZ_RUNS ?? 1000)
const redis = await RedisServer.start()
const db = redis.client()
const { app } = await buildApp({ redis: redis.url })
t.teardown(async () => { await app.close(); db.disconnect(); await redis.stop() })

/** Keys other than the rate limiter's. */
async function storedKeys (): Promise<string[]> {
  return (await db.keys('*')).filter((k) => !k.startsWith('userlog:{rl}:')).sort()
}

const event = fc.record({
  type: fc.oneof(fc.constantFrom('pageview', 'heartbeat', 'interaction', 'session_end'), fc.string()),
  path: fc.oneof(fc.string(), fc.webPath(), fc.constant('/')),
  date: fc.option(fc.oneof(fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())), { nil: undefined }),
  event: fc.option(fc.string(), { nil: undefined }),
  element: fc.option(fc.string(), { nil: undefined }),
  metadata: fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: undefined })
}, { requiredKeys: [] })
const body = fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)), event.map((e) => JSON.stringify(e)),
  fc.array(event, { maxLength: 60 }).map((es) => JSON.stringify(es)))

t.test('POST /events: only 2xx/4xx, and a rejected post stores nothing', async (t) => {
  let rejected = 0
  let accepted = 0
  await fc.assert(fc.asyncProperty(body, fc.constantFrom('application/json', 'text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded'),
    fc.boolean(), async (payload, type, loggedIn) => {
      await app.userlog.flush() // what earlier accepted posts buffered must not count against this one
      const before = await storedKeys()
      const res = await app.inject({ method: 'POST', url: '/userlog/events', payload, headers: { 'content-type': type, ...(loggedIn ? asUser('fuzz') : {}) } })
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${JSON.stringify(payload).slice(0, 200)}`)
      if (res.statusCode < 300) accepted++
      if (res.statusCode >= 400) {
        rejected++
        await app.userlog.flush()
        const after = await storedKeys()
        if (after.join('\n') !== before.join('\n')) throw new Error(`a rejected post stored ${after.filter((k) => !before.includes(k)).join(', ')}`)
        if (res.headers['set-cookie'] !== undefined) throw new Error('a rejected post set a cookie')
      }
    }), { numRuns: RUNS })
  t.ok(rejected > 0, `${rejected} of ${RUNS} posts rejected (${accepted} accepted), none with a 5xx`)
})

const segment = fc.oneof(fc.string(), fc.string().map(encodeURIComponent), fc.constantFrom('%', '%E0%A4%A', '..', '%2F', '*', ''))
const query = fc.dictionary(fc.constantFrom('q', 'limit', 'minutes', 'days', 'format', 'anonymize', 'x'), fc.oneof(fc.string(), fc.integer().map(String)))
  .map((d) => new URLSearchParams(d).toString())

t.test('admin API: random paths and query strings answer 2xx/4xx', async (t) => {
  const routes = ['/userlog/api/users', '/userlog/api/active', '/userlog/api/report', '/userlog/api/audit', '/userlog/api/export',
    '/userlog/api/logs/', '/userlog/api/sessions/', '/userlog/api/users/', '/userlog/api/token']
  await fc.assert(fc.asyncProperty(fc.constantFrom(...routes), segment, query, fc.constantFrom('GET', 'DELETE', 'POST'), fc.boolean(),
    async (route, seg, qs, method, admin) => {
      const url = (route.endsWith('/') ? route + seg.replace(/[?#]/g, '') : route) + (qs === '' ? '' : `?${qs}`)
      const res = await app.inject({ method: method as 'GET', url, headers: admin ? asAdmin : asUser('someone'), ...(method === 'POST' ? { payload: { user: seg } } : {}) })
      if (res.statusCode >= 500) throw new Error(`${res.statusCode} for ${method} ${url}: ${res.body.slice(0, 200)}`)
      // A malformed URL is refused (400) by the router before any hook; nothing else reaches a non-admin.
      if (!admin && res.statusCode < 400) throw new Error(`non-admin got ${res.statusCode} for ${method} ${url}`)
    }), { numRuns: RUNS })
  t.pass(`${RUNS} admin requests, none with a 5xx, none answered a non-admin with data`)
})
