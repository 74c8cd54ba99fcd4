// Exports: CSV parsed back with a strict RFC 4180 parser, formula cells neutralised, NDJSON,
// anonymization, the all-users walk, streaming, validation, audit.
import t from 'tap'
import { createHmac } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'
import { CSV_COLUMNS, csvCell } from '../../src/report/csv.js'
import { truncateIp } from '../../src/report/anonymize.js'
import { safeFilename } from '../../src/report/export.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')
const SECRET = 'export-test-secret-0123456789'
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) ' +
  'Chrome/135.0.0.0 Safari/537.36'

/**
 * A strict RFC 4180 parser: records end with CRLF (the last one too), fields are either quoted
 * (quotes doubled inside) or contain no quote, comma, CR or LF. Anything else throws.
 */
function parseCsv (text: string): string[][] {
  const rows: string[][] = []
  let row: string[] = []
  let i = 0
  while (i < text.length) {
    let field = ''
    if (text[i] === '"') {
      i++
      for (;;) {
        if (i >= text.length) throw new Error('unterminated quoted field')
        const c = text[i] as string
        if (c === '"') {
          if (text[i + 1] === '"') { field += '"'; i += 2; continue }
          i++
          break
        }
        field += c
        i++
      }
    } else {
      while (i < text.length && text[i] !== ',' && text[i] !== '\r') {
        const c = text[i] as string
        if (c === '"' || c === '\n') throw new Error(`${JSON.stringify(c)} in an unquoted field at ${i}`)
        field += c
        i++
      }
    }
    row.push(field)
    if (text[i] === ',') { i++; continue }
    if (text[i] === '\r' && text[i + 1] === '\n') { rows.push(row); row = []; i += 2; continue }
    throw new Error(`unexpected ${JSON.stringify(text[i])} at ${i}`)
  }
  if (row.length > 0) throw new Error('the last record has no CRLF')
  return rows
}

/** What a cell must hold for a value, neutralisation aside. */
function expectedCell (entry: Record<string, unknown>, column: string): string {
  if (column === 't') return new Date(entry.t as number).toISOString()
  if (column === 'extra') {
    const extra = Object.fromEntries(Object.entries(entry)
      .filter(([k]) => !(CSV_COLUMNS as readonly string[]).includes(k)))
    return Object.keys(extra).length === 0 ? '' : JSON.stringify(extra)
  }
  // Entries are JSON: a value is an object, an array, a string, a number, a boolean or null.
  const v = entry[column] as object | string | number | boolean | null | undefined
  if (v === undefined || v === null) return ''
  return typeof v === 'object' ? JSON.stringify(v) : String(v)
}

const FORMULA = /^[=+\-@\t\r]/

function ndjson (body: string): Array<Record<string, unknown>> {
  t.ok(body.endsWith('\n'), 'NDJSON ends with a newline')
  return body.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>)
}

t.test('CSV: RFC 4180, header row, chronological, every value round-trips, formulas neutralised', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const user = 'o\'hara, "q"\n2'
  await app.inject({ url: '/items/1?q=a,b"c', headers: { ...asUser(user), 'user-agent': 'Agent, "quoted"' } })
  await app.inject({ url: '/hello', headers: asUser(user) })
  app.userlog.record(user, {
    kind: 'interaction', src: 'client', path: '=HYPERLINK("http://evil")', element: '+SUM(1)', event: '-2+3', referrer: '@cmd',
    sid: '\tx', method: '\rx', metadata: { a: 'b,c', n: 1 }, date: 'line1\nline2', duration: -5, custom: '=1+1'
  })
  await app.userlog.flush()

  const res = await app.inject({
    url: `/userlog/api/logs/${encodeURIComponent(user)}/export?format=csv`, headers: asAdmin
  })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/csv; charset=utf-8; header=present')
  t.match(res.headers['content-disposition'], /^attachment; filename="userlog-o_hara_q_2-\d{4}-\d{2}-\d{2}\.csv"$/)
  t.equal(res.headers['cache-control'], 'no-store')
  const rows = parseCsv(res.body)
  t.same(rows[0], [...CSV_COLUMNS], 'header row')
  t.equal(rows.length, 4)
  t.ok(rows.every((r) => r.length === CSV_COLUMNS.length), 'every record has every column')

  const stored = (await db.lrange(keys.log(user), 0, -1)).reverse().map((s) => JSON.parse(s) as Record<string, unknown>)
  t.same(rows.slice(1).map((r) => r[CSV_COLUMNS.indexOf('id')]), stored.map((e) => e.id), 'oldest first')
  let neutralised = 0
  rows.slice(1).forEach((r, i) => {
    CSV_COLUMNS.forEach((column, c) => {
      const cell = r[c] as string
      t.notOk(FORMULA.test(cell), `${column} does not start a formula`)
      const want = expectedCell(stored[i] as Record<string, unknown>, column)
      if (FORMULA.test(want)) {
        neutralised++
        t.equal(cell, "'" + want, `${column} is prefixed with a quote`)
      } else {
        t.equal(cell, want, `${column} round-trips`)
      }
    })
  })
  t.equal(neutralised, 7, 'path, element, event, referrer, sid, method and the negative duration')
  t.match(rows[3]?.[CSV_COLUMNS.indexOf('extra')], '"custom":"=1+1"', 'unknown fields go to extra as JSON')
})

t.test('csvCell units', async (t) => {
  t.equal(csvCell('plain'), 'plain')
  t.equal(csvCell('a,b'), '"a,b"')
  t.equal(csvCell('say "hi"'), '"say ""hi"""')
  t.equal(csvCell('=1+2'), "'=1+2")
  t.equal(csvCell('=A1,"x"'), '"\'=A1,""x"""')
  t.equal(csvCell('-5'), "'-5")
  t.equal(csvCell(-5), "'-5")
  t.equal(csvCell('\r\n'), '"\'\r\n"')
  t.equal(csvCell(null), '')
  t.equal(csvCell({ a: 1 }), '{""a"":1}'.replace(/^/, '"').replace(/$/, '"'))
  t.equal(csvCell(12.5), '12.5')
})

t.test('NDJSON: the stored entries, oldest first', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  for (let i = 0; i < 5; i++) await app.inject({ url: `/items/${i}`, headers: asUser('alice') })
  await app.userlog.flush()
  const res = await app.inject({ url: '/userlog/api/logs/alice/export?format=ndjson', headers: asAdmin })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'application/x-ndjson; charset=utf-8')
  t.match(res.headers['content-disposition'], /^attachment; filename="userlog-alice-\d{4}-\d{2}-\d{2}\.ndjson"$/)
  const entries = ndjson(res.body)
  t.same(entries.map((e) => e.path), ['/items/0', '/items/1', '/items/2', '/items/3', '/items/4'])
  t.same(entries, (await db.lrange(keys.log('alice'), 0, -1)).reverse().map((s) => JSON.parse(s) as unknown))
})

t.test('names longer than the router\'s parameter limit, and names with a slash, export too', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  const long = 'L'.repeat(200)
  for (const user of [long, 'a/b']) {
    await app.inject({ url: '/hello', headers: asUser(user) })
    await app.userlog.flush()
    const res = await app.inject({
      url: `/userlog/api/logs/${encodeURIComponent(user)}/export?format=ndjson`, headers: asAdmin
    })
    t.equal(res.statusCode, 200, user.slice(0, 10))
    t.equal(ndjson(res.body)[0]?.user, user)
    t.notMatch(res.headers['content-disposition'], /\//, 'no slash in the filename')
  }
  const exported = await app.inject({ url: `/userlog/api/logs/${long}/export`, headers: asAdmin })
  t.match(exported.headers['content-disposition'], `userlog-${'L'.repeat(64)}-`)
  // The log route itself still answers, with its own parameters.
  const log = await app.inject({ url: `/userlog/api/logs/${long}?limit=1`, headers: asAdmin })
  t.equal(log.statusCode, 200)
  t.equal(log.json<{ entries: unknown[] }>().entries.length, 1)
})

t.test('bad parameters are 400, an unknown user 404; without a secret anonymize=true is 400', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  await app.inject({ url: '/hello', headers: asUser('alice') })
  await app.userlog.flush()
  for (const base of ['/userlog/api/logs/alice/export', '/userlog/api/export']) {
    for (const q of ['format=xml', 'format=csv&anonymize=yes', 'format=csv&limit=3', 'format=csv&format=ndjson']) {
      const res = await app.inject({ url: `${base}?${q}`, headers: asAdmin })
      t.equal(res.statusCode, 400, `${base}?${q}`)
      t.match(res.json(), { error: 'Bad Request', message: /querystring/ })
    }
    const anon = await app.inject({ url: `${base}?format=csv&anonymize=true`, headers: asAdmin })
    t.equal(anon.statusCode, 400)
    t.match(anon.json<{ message: string }>().message, /set the anonymizeSecret option/)
    t.equal((await app.inject({ url: `${base}?anonymize=false`, headers: asAdmin })).statusCode, 200, 'csv by default')
  }
  const none = await app.inject({ url: '/userlog/api/logs/nobody/export', headers: asAdmin })
  t.equal(none.statusCode, 404)
  t.same(none.json(), { error: 'Not Found', message: 'No logs for nobody' })
  t.equal((await app.inject({ url: '/userlog/api/logs/alice/export/x', headers: asAdmin })).statusCode, 404)
})

t.test('anonymized exports: pseudonym, truncated IPs, browser family, no query, no raw name or address', async (t) => {
  const { app } = await buildApp({ redis: redis.url, anonymizeSecret: SECRET })
  t.teardown(() => app.close())
  const user = 'alice.smith'
  const ips = ['203.0.113.9', '2001:db8:85a3:8d3:1319:8a2e:370:7348', '::ffff:198.51.100.77']
  for (const remoteAddress of ips) {
    await app.inject({
      url: `/profile/${user}?email=alice@example.com`, remoteAddress, headers: { ...asUser(user), 'user-agent': CHROME }
    })
  }
  app.userlog.record(user, {
    kind: 'pageview', src: 'client', path: `/u/${encodeURIComponent(user)}/settings?tab=1`, referrer: `https://x.test/?who=${user}`,
    sid: 'sid-secret-123', metadata: { who: user, [user]: 1 }, element: `card-${user}`, ip: ips[0], ua: CHROME,
    note: `private ${user}`
  })
  await app.inject({ url: '/hello', headers: asUser('bob') })
  await app.userlog.flush()
  const pseudonym = 'u_' + createHmac('sha256', SECRET).update('user\0' + user).digest('hex').slice(0, 32)

  for (const format of ['csv', 'ndjson']) {
    for (const url of [
      `/userlog/api/logs/${user}/export?format=${format}&anonymize=true`,
      `/userlog/api/export?format=${format}&anonymize=true`
    ]) {
      const res = await app.inject({ url, headers: asAdmin })
      t.equal(res.statusCode, 200, url)
      const text = res.body + String(res.headers['content-disposition'])
      for (const secret of [
        'alice', 'bob', '203.0.113.9', '8a2e', '198.51.100.77', 'example.com', 'sid-secret', 'Windows NT', 'tab=1',
        'private'
      ]) {
        t.notOk(text.includes(secret), `${format}: no ${secret}`)
      }
      t.match(res.headers['content-disposition'], /anonymized/)
      const rows: Array<Record<string, unknown>> = format === 'ndjson'
        ? ndjson(res.body)
        : (() => {
            const [header, ...rest] = parseCsv(res.body)
            return rest.map((r) => Object.fromEntries((header as string[]).map((h, i) => [h, r[i]])))
          })()
      const mine = rows.filter((r) => r.user === pseudonym)
      t.equal(mine.length, 4, `${format}: the user's rows carry the HMAC pseudonym`)
      const ipsOut = mine.map((r) => String(r.ip))
      t.same(ipsOut.sort(), ['198.51.100.0', '2001:db8:85a3::', '203.0.113.0', '203.0.113.0'])
      t.ok(mine.every((r) => r.ua === 'Chrome'), 'ua replaced by the browser family')
      const page = mine.find((r) => r.kind === 'pageview') as Record<string, unknown>
      t.equal(page.path, `/u/${pseudonym}/settings`, 'query dropped, own name replaced')
      t.match(String(page.sid), /^s_[0-9a-f]{32}$/)
      t.equal(String(page.element), `card-${pseudonym}`)
      if (format === 'ndjson') {
        t.same(page.metadata, { who: pseudonym, [pseudonym]: 1 })
        t.equal(page.note, undefined, 'unknown fields are dropped')
        t.equal(page.referrer, 'https://x.test/')
      }
    }
  }
})

t.test('truncateIp and safeFilename units', async (t) => {
  t.equal(truncateIp('10.1.2.3'), '10.1.2.0')
  t.equal(truncateIp('2001:db8::1'), '2001:db8:0::')
  t.equal(truncateIp('::1'), '0:0:0::')
  t.equal(truncateIp('fe80::1%eth0'), 'fe80:0:0::')
  t.equal(truncateIp('2001:DB8:ABCD:12::'), '2001:db8:abcd::')
  t.equal(truncateIp('64:ff9b::192.0.2.33'), '64:ff9b:0::')
  t.equal(truncateIp('::ffff:10.9.8.7'), '10.9.8.0')
  t.equal(truncateIp('1.2.3.4, 10.0.0.1'), '')
  t.equal(truncateIp('not-an-ip'), '')
  t.equal(truncateIp(undefined), '')
  t.equal(safeFilename('../..'), 'user')
  t.equal(safeFilename('a"b\r\nc;d'), 'a_b_c_d')
  t.equal(safeFilename('élodie'), 'lodie')
})

t.test('all-users export: every user, in name order, each oldest first; audited; streamed', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  // More users than one page of the names index walk.
  const users = Array.from({ length: 230 }, (_, i) => `user${String(i).padStart(3, '0')}`)
  for (const user of users) app.userlog.record(user, { kind: 'custom', step: 1 })
  await app.userlog.flush()
  for (const user of ['Bob', 'alice']) {
    for (let i = 0; i < 3; i++) await app.inject({ url: `/items/${i}`, headers: asUser(user) })
  }
  await app.userlog.flush()

  const res = await app.inject({ url: '/userlog/api/export?format=ndjson', headers: asAdmin })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-disposition'], /^attachment; filename="userlog-all-users-\d{4}-\d{2}-\d{2}\.ndjson"$/)
  const entries = ndjson(res.body)
  t.equal(entries.length, users.length + 6)
  const order = entries.map((e) => e.user).filter((u, i, all) => all[i - 1] !== u)
  t.same(order, ['alice', 'Bob', ...users], 'user by user, by name (case-insensitive), each once')
  t.same(entries.filter((e) => e.user === 'Bob').map((e) => e.path), ['/items/0', '/items/1', '/items/2'])

  const csv = await app.inject({ url: '/userlog/api/export', headers: asAdmin })
  t.equal(parseCsv(csv.body).length, users.length + 7, 'CSV: header and every entry')

  // Over a real socket the body is streamed in chunks, without a Content-Length.
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const live = await fetch(`http://127.0.0.1:${port}/userlog/api/export?format=csv`, { headers: asAdmin })
  t.equal(live.headers.get('transfer-encoding'), 'chunked')
  t.equal(live.headers.get('content-length'), null)
  t.equal(parseCsv(await live.text()).length, users.length + 7)

  await app.inject({ url: '/userlog/api/logs/alice/export', headers: asAdmin })
  const audit = (await app.inject({ url: '/userlog/api/audit?limit=10', headers: asAdmin }))
    .json<{ entries: Array<Record<string, unknown>> }>().entries
  t.match(audit.slice(0, 4), [
    { action: 'export', target: 'alice', admin: 'admin', t: Number },
    { action: 'export', target: '*', admin: 'admin' },
    { action: 'export', target: '*', admin: 'admin' },
    { action: 'export', target: '*', admin: 'admin' }
  ])
})
