// The `userlog` command in-process: the argument parser (a table of cases; random command lines
// are in fuzz-cli.test.ts), --help and usage errors with exit code 2, `userlog tail` printing a
// backlog line and a live line, and `userlog realtime` serving and shutting down cleanly.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { Client, entry, eventually, keys, mint, write } from '../helpers/realtime.js'
import { parseCli, UsageError, HELP, type TailCommand } from '../../src/cli/args.js'
import { runCli, version, type Running } from '../../src/cli/run.js'
import { formatEntry, formatJson, safeText, redactUrl } from '../../src/cli/tail.js'
import { filters, presence } from '../../src/shared/view-rules.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })

function capture (): { out: string[], err: string[], io: { out: (l: string) => void, err: (l: string) => void } } {
  const out: string[] = []
  const err: string[] = []
  return { out, err, io: { out: (l) => out.push(l), err: (l) => err.push(l) } }
}

t.test('parseCli: commands, defaults and environment', async (t) => {
  t.same(parseCli(['--help']), { command: 'help', topic: 'main' })
  t.same(parseCli(['-h']), { command: 'help', topic: 'main' })
  t.same(parseCli(['help', 'tail']), { command: 'help', topic: 'tail' })
  t.same(parseCli(['realtime', '--help']), { command: 'help', topic: 'realtime' })
  t.same(parseCli(['tail', '-h']), { command: 'help', topic: 'tail' })
  t.same(parseCli(['--version']), { command: 'version' })
  t.same(parseCli(['realtime']), {
    command: 'realtime', port: 8080, host: '127.0.0.1', redis: 'redis://127.0.0.1:6379', path: '/live', origins: [], prefix: 'userlog', logLevel: 'info',
    tlsCa: null
  })
  t.same(parseCli(['realtime', '--port', '9000', '--host', '0.0.0.0', '--redis', 'rediss://r.test:6380/2', '--path', '/ws/live',
    '--origin', 'http://localhost:3000', '--origin=https://Admin.Example.com/', '--prefix', 'app1', '--log-level', 'warn',
    '--tls-ca', '/etc/ssl/redis-ca.pem']), {
    command: 'realtime', port: 9000, host: '0.0.0.0', redis: 'rediss://r.test:6380/2', path: '/ws/live',
    origins: ['http://localhost:3000', 'https://admin.example.com'], prefix: 'app1', logLevel: 'warn',
    tlsCa: '/etc/ssl/redis-ca.pem'
  })
  const env = { REDIS_URL: 'redis://env.test:1', USERLOG_ORIGINS: ' http://a.test:3000 , ,https://b.test', LOG_LEVEL: 'debug' }
  t.match(parseCli(['realtime'], env), { redis: 'redis://env.test:1', origins: ['http://a.test:3000', 'https://b.test'], logLevel: 'debug' })
  t.match(parseCli(['realtime', '--origin', 'https://c.test'], env), { origins: ['https://c.test'] }, '--origin replaces USERLOG_ORIGINS')
  t.same(parseCli(['tail', 'alice']), {
    command: 'tail', user: 'alice', redis: 'redis://127.0.0.1:6379', prefix: 'userlog', json: false, tlsCa: null,
    filter: filters.NO_FILTER
  })
  t.same(parseCli(['tail', '--all', '--json', '--redis', 'redis://x.test']), {
    command: 'tail', user: null, redis: 'redis://x.test', prefix: 'userlog', json: true, tlsCa: null,
    filter: filters.NO_FILTER
  })
  const tail = parseCli(['tail', 'a', '--kind', 'request,error', '--status', '5xx', '--method', 'post',
    '--path', '/Cart']) as TailCommand
  t.same(tail.filter, {
    kinds: new Set(['request', 'error']), statuses: new Set(['5xx']), methods: new Set(['POST']),
    q: '/Cart', needle: '/cart'
  })
  t.match(parseCli(['tail', '--', '-bob']), { user: '-bob' })
  t.match(parseCli(['tail', 'a:b*c{d} é']), { user: 'a:b*c{d} é' })
})

t.test('parseCli: mistakes are UsageErrors that say what is wrong', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [[], /which command/],
    [['serve'], /unknown command serve/],
    [['--bogus'], /unknown option --bogus/],
    [['realtime', '--bogus'], /userlog realtime: unknown option --bogus/],
    [['realtime', '-x'], /unknown option -x/],
    [['realtime', '--port'], /--port needs a value/],
    [['realtime', '--port', 'http'], /--port must be a number/],
    [['realtime', '--port', '70000'], /--port must be a number/],
    [['realtime', '--port', '-1'], /--port needs a value/],
    [['realtime', '--port', '1', '--port', '2'], /given twice/],
    [['realtime', '--host', '--port', '1'], /--host needs a value/],
    [['realtime', '--host', 'a b'], /--host/],
    [['realtime', '--redis', 'http://x'], /--redis must be a redis:\/\//],
    [['realtime', '--path', 'live'], /--path/],
    [['realtime', '--path', '/healthz'], /--path/],
    [['realtime', '--origin', 'https://a.test/x'], /--origin must list origins/],
    [['realtime', '--origin', 'a.test'], /--origin/],
    [['realtime', '--prefix', 'a b'], /--prefix/],
    [['realtime', '--log-level', 'loud'], /--log-level/],
    [['realtime', 'extra'], /unexpected argument extra/],
    [['realtime', '--help=yes'], /takes no value/],
    [['tail'], /which user/],
    [['tail', 'a', 'b'], /one user at a time/],
    [['tail', 'a', '--all'], /not both/],
    [['tail', '*'], /--all/],
    [['tail', ''], /empty/],
    [['tail', '--origin', 'x', 'a'], /unknown option --origin/],
    [['tail', 'a', '--kind', 'requests'], /--kind: unknown kind "requests"/],
    [['tail', 'a', '--status', '404'], /--status: unknown class "404"/],
    [['tail', 'a', '--method', 'GET!'], /--method: "GET!"/],
    [['tail', 'a', '--path', 'x'.repeat(201)], /--path: at most 200 characters/],
    [['tail', 'a', '--path'], /--path needs a value/],
    [['help', 'me'], /no help on me/]
  ]
  for (const [argv, re] of cases) {
    t.throws(() => parseCli(argv), re, argv.join(' '))
    try { parseCli(argv) } catch (err) { t.equal((err as UsageError).exitCode, 2) }
  }
  t.throws(() => parseCli(['realtime'], { USERLOG_ORIGINS: 'nope' }), /USERLOG_ORIGINS must list origins/)
  t.throws(() => parseCli(['tail', 'a'], { REDIS_URL: 'localhost:6379' }), /--redis must be/)
})

t.test('runCli: --help, version and usage errors', async (t) => {
  let c = capture()
  t.equal(await runCli(['--help'], {}, c.io), 0)
  t.equal(c.out.join('\n'), HELP.main.trimEnd())
  t.same(c.err, [])

  c = capture()
  t.equal(await runCli(['tail', '--help'], {}, c.io), 0)
  t.match(c.out[0], /Usage: userlog tail <user>/)

  c = capture()
  t.equal(await runCli(['-v'], {}, c.io), 0)
  t.same(c.out, [version()])
  t.match(version(), /^\d+\.\d+\.\d+/)

  c = capture()
  t.equal(await runCli(['realtime', '--prot', '80'], {}, c.io), 2, 'exit code 2')
  t.same(c.out, [])
  t.same(c.err, ['userlog realtime: unknown option --prot', 'Run "userlog realtime --help" for usage.'])

  c = capture()
  t.equal(await runCli(['frobnicate'], {}, c.io), 2)
  t.same(c.err[1], 'Run "userlog --help" for usage.')
})

// Control and bidi characters that must never reach a terminal raw.
// eslint-disable-next-line no-control-regex
const RAW_CONTROL = /[\u0000-\u001f\u007f-\u009f\u202e]/

t.test('formatting: one line per entry, untrusted text made harmless', async (t) => {
  t.equal(formatEntry({
    id: 'x', t: 1763900000123, user: 'alice', kind: 'request', method: 'GET', status: 200, path: '/items?page=2',
    ms: 3.2
  }),
    '2025-11-23T12:13:20.123Z  alice  request  GET  200  /items?page=2  3.2ms')
  t.equal(formatEntry({ id: 'x', t: 'soon', user: 'bob', kind: 'pageview', path: '/a' }),
    '-  bob  pageview  -  -  /a  -')
  const hostile = formatEntry({
    id: 'x', t: 0, user: 'e\u001b[2J', kind: { a: 1 }, method: null, status: '\u009b31m', path: '/\r\nfake line\u202e',
    ms: Infinity
  })
  t.notMatch(hostile, RAW_CONTROL, 'no control or bidi characters reach the terminal')
  t.match(hostile, /e\\u001b\[2J/)
  t.match(hostile, /\/\\u000d\\u000afake line\\u202e/)
  t.equal(safeText('x'.repeat(3000)).length, 2049)
  const json = formatJson({ id: 'x', path: '\u009b\u202e\n' })
  t.notMatch(json, RAW_CONTROL)
  t.same(JSON.parse(json), { id: 'x', path: '\u009b\u202e\n' }, 'still the same JSON')
  t.equal(redactUrl('redis://user:secret@r.test:6379/0'), 'redis://user:***@r.test:6379/0')
})

t.test('userlog tail prints the backlog, then live entries, once each', async (t) => {
  await db.flushall()
  const old = entry('alice', { path: '/old\u001b[31m', method: 'GET', status: 200, ms: 1.25 })
  await write(db, [old])
  const c = capture()
  const running = await runCli(['tail', 'alice', '--redis', redis.url], {}, c.io) as Running
  t.teardown(() => running.close())
  t.equal(running.command, 'tail')
  await eventually(() => c.out.length === 1, 10_000, 'the backlog line')
  t.equal(c.out[0], formatEntry(old))
  t.match(c.out[0], /alice {2}request {2}GET {2}200 {2}\/old\\u001b\[31m {2}1\.25ms$/)

  const live = entry('alice', { path: '/live', kind: 'pageview', method: undefined, status: undefined })
  await write(db, [entry('bob'), live])
  await eventually(() => c.out.length === 2, 10_000, 'the live line')
  t.equal(c.out[1], formatEntry(live))
  t.same(c.err, [])
  await running.close()
  await eventually(async () => !/name=userlog-realtime/.test(await db.client('LIST') as string), 5000, 'its Redis connections closed')
})

t.test('userlog tail --kind --status --method --path prints only matching entries, and presence lines', async (t) => {
  await db.flushall()
  const c = capture()
  const running = await runCli(['tail', 'cara', '--redis', redis.url, '--kind', 'request,error', '--status', '5xx',
    '--path', '/cart'], {}, c.io) as Running
  t.teardown(() => running.close())
  await eventually(async () =>
    Number((await db.pubsub('NUMSUB', keys.userChannel('cara')) as [string, number])[1]) === 1, 10_000, 'subscribed')
  const failed = entry('cara', { path: '/cart/pay', status: 502 })
  // Times given, not read from the clock: the failed request is her latest client event even
  // when the clock ticks between the two entries.
  const now = Date.now()
  const pageview = entry('cara', { kind: 'pageview', src: 'client', path: '/cart', t: now })
  const browserFailed = entry('cara', { kind: 'request_failed', src: 'client', path: '/checkout', url: '/cart/api',
    method: 'POST', status: 500, t: now + 1 })
  await write(db, [
    entry('cara', { path: '/cart/pay', status: 200 }), failed, entry('cara', { path: '/home', status: 500 }),
    pageview, browserFailed
  ])
  await eventually(() => c.out.length >= 3, 10_000, 'the matching lines and the presence line')
  t.same(c.out.slice(0, 2), [formatEntry(failed), formatEntry(browserFailed)], 'exactly the matching entries')
  t.match(c.out[2], /^\S+Z {2}cara {2}presence {2}active {2}\/checkout$/, 'the page view made her active')
  t.equal(c.out.length, 3, 'nothing else (the message is printed at once)')

  const hiddenAt = Date.now()
  const hidden = { kind: 'visibility', src: 'client', path: '/checkout', state: 'hidden', t: hiddenAt }
  await write(db, [entry('cara', hidden)])
  await eventually(() => c.out.length === 4, 10_000, 'the away line')
  t.equal(c.out[3], `${new Date(hiddenAt).toISOString()}  cara  presence  away  /checkout`)
  await write(db, [entry('cara', { kind: 'session_end', src: 'client', path: '/checkout' })])
  // Nothing follows the leave: the clock alone makes her gone, LEAVE_GRACE_MS later.
  await eventually(() => c.out.length === 5, presence.LEAVE_GRACE_MS + 10_000, 'the gone line')
  t.match(c.out[4], /cara {2}presence {2}gone {2}\/checkout$/)
  t.same(c.err, [])
})

t.test('userlog tail --all --json follows every user', async (t) => {
  await db.flushall()
  const c = capture()
  const running = await runCli(['tail', '--all', '--json', '--redis', redis.url], {}, c.io) as Running
  t.teardown(() => running.close())
  await eventually(async () =>
    Number((await db.pubsub('NUMSUB', 'userlog:live:*all') as [string, number])[1]) === 1, 10_000, 'subscribed')
  const batch = [entry('alice'), entry('bob')]
  await write(db, batch)
  await eventually(() => c.out.length === 2, 10_000, 'two lines')
  t.same(c.out.map((l) => JSON.parse(l) as unknown), batch)
})

t.test('userlog realtime serves, and shuts down with 1001 and its Redis connections closed', async (t) => {
  await db.flushall()
  const c = capture()
  const running = await runCli(
    ['realtime', '--port', '0', '--redis', redis.url, '--log-level', 'silent', '--path', '/stream'], {}, c.io
  ) as Running
  let closed = false
  t.teardown(async () => { if (!closed) await running.close() })
  t.equal(running.command, 'realtime')
  t.match(running.address, /^http:\/\/127\.0\.0\.1:\d+$/)
  const health = await fetch(`${running.address as string}/healthz`)
  t.equal(health.status, 200)
  const wsUrl = `${(running.address as string).replace('http', 'ws')}/stream`
  const viewer = await Client.viewer(wsUrl, await mint(db, 'alice'))
  await viewer.until((ms) => ms.some((m) => m.type === 'backlog'))
  await running.close()
  closed = true
  t.equal((await viewer.closed).code, 1001)
  await eventually(async () => !/name=userlog-realtime/.test(await db.client('LIST') as string), 5000, 'Redis connections closed')
})

t.test('userlog realtime on a port in use fails and leaves nothing open', async (t) => {
  const c = capture()
  const first = await runCli(['realtime', '--port', '0', '--redis', redis.url, '--log-level', 'silent'], {}, c.io) as
    Running
  t.teardown(() => first.close())
  const port = new URL(first.address as string).port
  await t.rejects(runCli(['realtime', '--port', port, '--redis', redis.url, '--log-level', 'silent'], {}, c.io), /EADDRINUSE/)
  await eventually(async () => ((await db.client('LIST') as string).match(/name=userlog-realtime/g) ?? []).length === 2, 5000, 'only the first server\'s two connections')
})
