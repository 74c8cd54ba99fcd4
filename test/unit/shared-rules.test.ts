// The rules that the plugin, the realtime server and the CLI share, checked through all three
// front doors at once, so that they cannot drift apart again: origins, the key prefix and the
// refusal of an ioredis keyPrefix.
import t from 'tap'
import { Redis } from 'ioredis'
import { validateOptions } from '../../src/options.js'
import { validateRealtimeOptions } from '../../src/realtime/options.js'
import { parseCli } from '../../src/cli/args.js'
import { normalizeOrigin, originRefusal } from '../../src/shared/origin.js'

// [origin as configured, what it normalises to (null: refused everywhere)]
const ORIGINS: Array<[string, string | null]> = [
  ['https://app.example.com', 'https://app.example.com'],
  ['https://App.Example.com', 'https://app.example.com'],
  ['https://app.example.com:443', 'https://app.example.com'],
  ['http://app.example.com:80', 'http://app.example.com'],
  ['http://localhost:3000', 'http://localhost:3000'],
  ['https://app.example.com/', 'https://app.example.com'],
  ['http://[::1]:8080', 'http://[::1]:8080'],
  ['https://app.example.com/path', null],
  ['https://app.example.com?q=1', null],
  ['https://app.example.com#x', null],
  ['https://user:pw@app.example.com', null],
  ['ftp://app.example.com', null],
  ['app.example.com', null],
  ['null', null],
  ['', null]
]

t.test('one origin rule: the plugin, the realtime server and the CLI accept and normalise alike', async (t) => {
  for (const [given, normal] of ORIGINS) {
    t.equal(normalizeOrigin(given), normal, `normalizeOrigin(${given})`)
    if (normal === null) {
      t.throws(() => validateOptions({ allowedOrigins: [given] }), { code: 'FST_USERLOG_OPTION', message: /"allowedOrigins"/ }, given)
      t.throws(() => validateRealtimeOptions({ origins: [given] }), { code: 'FST_USERLOG_OPTION', message: /"origins"/ }, given)
      t.throws(() => parseCli(['realtime', `--origin=${given}`]), /--origin must list origins/, given)
    } else {
      t.same([...validateOptions({ allowedOrigins: [given] }).allowedOrigins], [normal], `plugin: ${given}`)
      t.same([...validateRealtimeOptions({ origins: [given] }).origins], [normal], `realtime: ${given}`)
      t.match(parseCli(['realtime', '--origin', given]), { origins: [normal] }, `cli: ${given}`)
    }
  }
})

t.test('one origin check: listed origins and the request\'s own host:port pass, others are refused', async (t) => {
  const listed = new Set(['https://admin.example.com'])
  // [Origin header, Host header, allowed?]
  const cases: Array<[string, string | undefined, ReadonlySet<string>, boolean]> = [
    ['https://admin.example.com', 'api.example.com', listed, true],
    ['https://ADMIN.example.com', 'api.example.com', listed, true],
    ['https://evil.example.com', 'api.example.com', listed, false],
    ['https://admin.example.com.evil.net', 'api.example.com', listed, false],
    ['http://app.test:8080', 'app.test:8080', new Set(), true],
    ['http://app.test', 'app.test:80', new Set(), true],
    ['https://app.test', 'app.test:443', listed, true],
    ['http://app.test:8081', 'app.test:8080', new Set(), false],
    ['https://app.test', 'app.test', new Set(), true],
    ['http://app.test', undefined, new Set(), false],
    ['null', 'app.test', new Set(), false],
    ['file:///x', 'app.test', new Set(), false],
    ['not a url', 'app.test', new Set(), false],
    ['http://app.test', 'a b', new Set(), false]
  ]
  for (const [origin, host, allowed, ok] of cases) {
    const reason = originRefusal(origin, host, allowed)
    if (ok) t.equal(reason, null, `${origin} on ${String(host)}`)
    else t.type(reason, 'string', `${origin} on ${String(host)} refused`)
  }
})

t.test('one prefix rule', async (t) => {
  for (const prefix of ['userlog', 'app_1', 'a.b:c-d', 'x'.repeat(64)]) {
    t.equal(validateOptions({ prefix }).prefix, prefix)
    t.equal(validateRealtimeOptions({ prefix }).prefix, prefix)
    t.match(parseCli(['tail', '--all', '--prefix', prefix]), { prefix })
  }
  for (const prefix of ['', 'a b', 'a{b}', 'x'.repeat(65), 'a*']) {
    t.throws(() => validateOptions({ prefix }), { code: 'FST_USERLOG_OPTION', message: /"prefix"/ })
    t.throws(() => validateRealtimeOptions({ prefix }), { code: 'FST_USERLOG_OPTION', message: /"prefix"/ })
    t.throws(() => parseCli(['tail', '--all', `--prefix=${prefix}`]), /--prefix must be/)
  }
})

t.test('a client with a keyPrefix is refused by the plugin and the realtime server alike', async (t) => {
  const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app:' })
  const plain = new Redis({ lazyConnect: true })
  t.teardown(() => { prefixed.disconnect(); plain.disconnect() })
  const refused = { code: 'FST_USERLOG_OPTION', message: /keyPrefix/ }
  t.throws(() => validateOptions({ redis: prefixed }), refused)
  t.throws(() => validateRealtimeOptions({ redis: prefixed }), refused)
  t.throws(() => validateOptions({ redis: { keyPrefix: 'app:' } }), refused, 'ioredis options with a keyPrefix')
  t.equal(validateOptions({ redis: plain }).redis, plain)
  t.equal(validateRealtimeOptions({ redis: plain }).redis, plain)
})

t.test('errors carry stable codes', async (t) => {
  t.throws(() => validateOptions({ maxEntry: 5 }), { code: 'FST_USERLOG_UNKNOWN_OPTION', message: /unknown option "maxEntry"/ })
  t.throws(() => validateRealtimeOptions({ orgins: [] }), { code: 'FST_USERLOG_UNKNOWN_OPTION', message: /unknown option "orgins"/ })
  t.throws(() => validateOptions({ maxEntries: 0 }), { code: 'FST_USERLOG_OPTION', name: 'FastifyError' })
  t.throws(() => validateOptions('yes'), { code: 'FST_USERLOG_OPTION', message: /option "options" must be an object/ })
})
