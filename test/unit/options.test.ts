import t from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import { validateOptions, DEFAULT_REDACT_QUERY } from '../../src/options.js'
import { userlog } from '../../src/index.js'

t.test('defaults', async (t) => {
  const s = validateOptions(undefined)
  t.equal(s.prefix, 'userlog')
  t.equal(s.routePrefix, '/userlog')
  t.equal(s.maxEntries, 100)
  t.equal(s.ttl, 86400)
  t.equal(s.maxBuffer, 10000)
  t.equal(s.timeZone, 'UTC')
  t.equal(s.trackAnonymous, false)
  t.equal(s.isAdmin, null)
  t.same(s.ignore, ['/userlog', '/favicon.ico'])
  t.same([...s.redactQuery], DEFAULT_REDACT_QUERY)
  t.equal(s.getUser({ user: { username: 'alice' } } as never), 'alice')
  t.equal(s.getUser({} as never), undefined)
  t.equal(validateOptions({ routePrefix: '/ops/log' }).ignore[0], '/ops/log', 'the ignore default follows routePrefix')
  t.equal(validateOptions({ timeZone: 'europe/paris' }).timeZone, 'Europe/Paris', 'time zones are canonicalised')
})

t.test('every bad option is refused with its name and what was expected', async (t) => {
  const cases: Array<[Record<string, unknown>, string, RegExp]> = [
    [{ redis: 42 }, 'redis', /redis:\/\/ .*URL/],
    [{ redis: 'http://x' }, 'redis', /redis:\/\//],
    [{ redis: { keyPrefix: 'app:' } }, 'redis', /without keyPrefix/],
    [{ prefix: '' }, 'prefix', /1 to 64/],
    [{ prefix: 'a b' }, 'prefix', /\[A-Za-z0-9_.:-\]/],
    [{ routePrefix: 'userlog' }, 'routePrefix', /starts with "\/"/],
    [{ routePrefix: '/userlog/' }, 'routePrefix', /no trailing/],
    [{ getUser: 'user' }, 'getUser', /a function/],
    [{ isAdmin: true }, 'isAdmin', /a function/],
    [{ maxEntries: 0 }, 'maxEntries', /integer from 1/],
    [{ maxEntries: 2.5 }, 'maxEntries', /integer/],
    [{ maxEntries: '100' }, 'maxEntries', /integer/],
    [{ ttl: -1 }, 'ttl', /integer from 1/],
    [{ ignore: '/health' }, 'ignore', /array of paths/],
    [{ ignore: ['health'] }, 'ignore', /starting with "\/"/],
    [{ redactQuery: 'password' }, 'redactQuery', /array/],
    [{ redactQuery: [''] }, 'redactQuery', /non-empty/],
    [{ transform: {} }, 'transform', /a function/],
    [{ trackAnonymous: 'yes' }, 'trackAnonymous', /a boolean/],
    [{ realtimeUrl: 'http://x/live' }, 'realtimeUrl', /ws:\/\/ or wss:\/\//],
    [{ realtimeUrl: 'not a url' }, 'realtimeUrl', /ws:\/\//],
    [{ allowedOrigins: ['https://a.example/path'] }, 'allowedOrigins', /no path/],
    [{ allowedOrigins: 'https://a.example' }, 'allowedOrigins', /array of origins/],
    [{ timeZone: 'Mars/Olympus' }, 'timeZone', /IANA/],
    [{ timeZone: 1 }, 'timeZone', /IANA/],
    [{ maxBuffer: 0 }, 'maxBuffer', /integer from 1/],
    [{ anonymizeSecret: 'short' }, 'anonymizeSecret', /at least 16/]
  ]
  for (const [opts, name, expected] of cases) {
    t.throws(() => validateOptions(opts), { message: new RegExp(`option "${name}" must be`) },
      `${name}: ${JSON.stringify(opts)}`)
    t.throws(() => validateOptions(opts), { message: expected })
  }
  t.throws(() => validateOptions({ maxEntry: 5 }), { message: /unknown option "maxEntry"/ })
  t.throws(() => validateOptions('x'), { message: /option "options" must be an object/ })
})

t.test('a client with keyPrefix is refused (channels would not be prefixed)', async (t) => {
  const client = new Redis({ keyPrefix: 'x:', lazyConnect: true })
  t.throws(() => validateOptions({ redis: client }), { message: /option "redis" must be a client without keyPrefix/ })
  client.disconnect()
})

t.test('register fails with the same message', async (t) => {
  const app = Fastify()
  await t.rejects(async () => { await app.register(userlog, { maxEntries: -5 }).ready() }, { message: /option "maxEntries" must be an integer from 1/ })
})
