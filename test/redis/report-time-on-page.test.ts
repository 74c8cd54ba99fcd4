// Time on page in the report, against a real redis-server and the real write script: views,
// measured leaves (session_end with activeMs), heartbeats filling in for views without one and
// never counted on top of one, time-zone days, the top-paths bound, the CSV file, and the Redis
// work each session_end and heartbeat adds to a batch.
import t from 'tap'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser, asAdmin } from '../helpers/app.js'
import { writeEntries, type TimedEntry } from '../helpers/report-entries.js'
import { Keys } from '../../src/shared/keys.js'
import { validateOptions } from '../../src/options.js'
import { buildScriptCall } from '../../src/write/batch.js'
import type { Entry } from '../../src/types.js'
import { reportContributor, STATS_TTL_S } from '../../src/report/counters.js'
import { buildReport, type Report } from '../../src/report/report.js'
import { DayClock } from '../../src/report/days.js'
import { HEARTBEAT_MS, MAX_ACTIVE_MS, type TimeOnPageRow } from '../../src/report/time-on-page.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')
const iso = (s: string): number => Date.parse(s)

type Fields = Record<string, unknown>
const pageview = (path: string, sid: string): Fields => ({ kind: 'pageview', src: 'client', path, sid })
const heartbeat = (path: string, sid: string): Fields => ({ kind: 'heartbeat', src: 'client', path, sid })
const leave = (path: string, sid: string, fields: Fields = {}): Fields =>
  ({ kind: 'session_end', src: 'client', path, sid, duration: 60, ...fields })

const rowOf = (rows: TimeOnPageRow[], path: string): TimeOnPageRow | undefined => rows.find((r) => r.path === path)

t.test('views, measured leaves and heartbeats of views without one, per path (entries through record())',
  async (t) => {
    // The collector does not accept activeMs/pageMs yet, so the entries are recorded directly, as
    // the collector will write them: kind session_end, src client, path = the page left.
    const { app } = await buildApp({ redis: redis.url })
    t.teardown(() => app.close())
    const record = (user: string, fields: Fields): void => { app.userlog.record(user, fields) }
    // alice: /docs, active 42 s from load to leave: two heartbeats, then a measured leave.
    record('alice', pageview('/docs', 'a'))
    record('alice', heartbeat('/docs', 'a'))
    record('alice', heartbeat('/docs', 'a'))
    await app.userlog.flush() // the leave comes in a later batch than its heartbeats
    record('alice', leave('/docs', 'a', { activeMs: 42_000, pageMs: 60_000 }))
    // bob: /docs?tab=2, three heartbeats, the leave never arrived: 3 × 15 s.
    record('bob', pageview('/docs?tab=2', 'b'))
    for (let i = 0; i < 3; i++) record('bob', heartbeat('/docs?tab=2', 'b'))
    // carol: /docs, 31.5 s active (two heartbeats), measured.
    record('carol', pageview('/docs', 'c'))
    record('carol', heartbeat('/docs', 'c'))
    record('carol', heartbeat('/docs', 'c'))
    record('carol', leave('/docs', 'c', { activeMs: 31_500.4, pageMs: 40_000 }))
    // /shop: an older tracker's leave without activeMs; its heartbeat counts.
    record('dan', pageview('/shop', 'd'))
    record('dan', heartbeat('/shop', 'd'))
    record('dan', leave('/shop', 'd'))
    // /short: 4 s, no heartbeat, measured.
    record('erin', pageview('/short', 'e'))
    record('erin', leave('/short', 'e', { activeMs: 4000, pageMs: 4100 }))
    // Bad or forged values: activeMs above pageMs is cut to pageMs, above a day to a day; not a
    // number, negative or infinite is no measurement at all.
    record('frank', pageview('/over', 'f'))
    record('frank', leave('/over', 'f', { activeMs: 90_000, pageMs: 20_000 }))
    record('frank', pageview('/forged', 'f'))
    record('frank', leave('/forged', 'f', { activeMs: 1e15 }))
    for (const activeMs of ['5000', -1, null, true]) record('gina', leave('/bad', 'g', { activeMs }))
    await app.userlog.flush()

    const res = await app.inject({ url: '/userlog/api/report?days=1', headers: asAdmin })
    t.equal(res.statusCode, 200)
    const report = res.json<Report>()
    const top = report.timeOnPage
    t.equal(top.heartbeatMs, HEARTBEAT_MS)
    // /docs: 42 000 + 31 500 measured; 7 heartbeats, of which the leaves cover 2 + 2: 3 × 15 s more.
    const docs = { path: '/docs', views: 3, measuredViews: 2, activeMs: 118_500, avgActiveMs: 39_500 }
    const expected: TimeOnPageRow[] = [
      docs,
      { path: '/forged', views: 1, measuredViews: 1, activeMs: MAX_ACTIVE_MS, avgActiveMs: MAX_ACTIVE_MS },
      { path: '/over', views: 1, measuredViews: 1, activeMs: 20_000, avgActiveMs: 20_000 },
      { path: '/shop', views: 1, measuredViews: 0, activeMs: 15_000, avgActiveMs: 15_000 },
      { path: '/short', views: 1, measuredViews: 1, activeMs: 4000, avgActiveMs: 4000 }
    ]
    t.same(top.pages, expected, 'ordered by views, then active time')
    t.notOk(rowOf(top.pages, '/bad'), 'leaves without a usable activeMs count nothing here')
    const totalActive = 118_500 + MAX_ACTIVE_MS + 20_000 + 15_000 + 4000
    t.match(top, { views: 7, measuredViews: 5, activeMs: totalActive, avgActiveMs: Math.round(totalActive / 7) })
    t.equal(top.days.length, 1)
    t.same(top.days[0]?.pages, expected, 'the day and the range agree on one day')
    t.equal(top.days[0]?.date, report.to)
    t.equal(report.days[0]?.pageviews, 7, 'views are the page-view counts')

    // Every new counter key expires like the others.
    for (const what of ['active', 'measured', 'beats']) {
      const ttl = await db.ttl(keys.stats(report.to, what))
      t.ok(ttl > STATS_TTL_S - 60 && ttl <= STATS_TTL_S, `${what} TTL ${ttl}`)
    }
    t.same(await db.hgetall(keys.stats(report.to, 'beats')), {
      '/docs': '3', '/shop': '1', '/over': '-1', '/forged': String(-MAX_ACTIVE_MS / HEARTBEAT_MS)
    },
      'heartbeats minus the ones measured leaves cover (/over: its 20 s cover one it never sent)')
  })

t.test('all views measured: heartbeats add nothing; a leave covering more than was sent reads as 0', async (t) => {
  await writeEntries(db, keys, [
    { t: iso('2026-05-10T10:00:00Z'), user: 'a', ...pageview('/p', 's1') },
    { t: iso('2026-05-10T10:00:15Z'), user: 'a', ...heartbeat('/p', 's1') },
    { t: iso('2026-05-10T10:00:20Z'), user: 'a', ...leave('/p', 's1', { activeMs: 20_000 }) },
    // SPA-like: 35 s active, one heartbeat sent, two covered: net -1, read as 0.
    { t: iso('2026-05-10T11:00:00Z'), user: 'b', ...pageview('/p', 's2') },
    { t: iso('2026-05-10T11:00:30Z'), user: 'b', ...heartbeat('/p', 's2') },
    { t: iso('2026-05-10T11:00:35Z'), user: 'b', ...leave('/p', 's2', { activeMs: 35_000 }) }
  ], 'UTC')
  t.equal(await db.hget(keys.stats('2026-05-10', 'beats'), '/p'), '-1')
  const report = await buildReport(db, keys, new DayClock('UTC'), 1, iso('2026-05-10T12:00:00Z'))
  t.same(report.timeOnPage.pages, [{ path: '/p', views: 2, measuredViews: 2, activeMs: 55_000, avgActiveMs: 27_500 }])
})

t.test('days in the time zone: a view split by local midnight, Paris versus UTC', async (t) => {
  // 23:59:40 and 23:59:55 in Paris (CEST, UTC+2) on May 10; the leave at 00:00:20 on May 11.
  const entries = [
    { t: iso('2026-05-10T21:59:40Z'), user: 'p', ...pageview('/late', 'n') },
    { t: iso('2026-05-10T21:59:55Z'), user: 'p', ...heartbeat('/late', 'n') },
    { t: iso('2026-05-10T22:00:20Z'), user: 'p', ...leave('/late', 'n', { activeMs: 40_000 }) },
    { t: iso('2026-05-10T22:30:00Z'), user: 'q', ...pageview('/early', 'm') },
    { t: iso('2026-05-10T22:30:15Z'), user: 'q', ...heartbeat('/early', 'm') }
  ]
  await writeEntries(db, keys, entries, 'Europe/Paris')
  const paris = await buildReport(db, keys, new DayClock('Europe/Paris'), 2, iso('2026-05-11T08:00:00Z'))
  t.same(paris.timeOnPage.days.map((d) => [d.date, d.pages]), [
    ['2026-05-10', [{ path: '/late', views: 1, measuredViews: 0, activeMs: 15_000, avgActiveMs: 15_000 }]],
    ['2026-05-11', [
      { path: '/early', views: 1, measuredViews: 0, activeMs: 15_000, avgActiveMs: 15_000 },
      // The leave lands on the next day, without its view; its heartbeat stays on the first day.
      { path: '/late', views: 0, measuredViews: 1, activeMs: 40_000, avgActiveMs: 0 }
    ]]
  ])
  t.match(paris.timeOnPage, { views: 2, measuredViews: 1, activeMs: 70_000, avgActiveMs: 35_000 })
  t.same(paris.timeOnPage.pages.map((r) => [r.path, r.views, r.activeMs]),
    [['/late', 1, 55_000], ['/early', 1, 15_000]])

  // In UTC all of it is May 10: the leave covers its heartbeat, nothing counted twice.
  await db.flushall()
  await writeEntries(db, keys, entries, 'UTC')
  const utc = await buildReport(db, keys, new DayClock('UTC'), 2, iso('2026-05-11T08:00:00Z'))
  t.same(utc.timeOnPage.days.map((d) => [d.date, d.views, d.activeMs]),
    [['2026-05-10', 2, 55_000], ['2026-05-11', 0, 0]])
  t.same(utc.timeOnPage.pages, [
    { path: '/late', views: 1, measuredViews: 1, activeMs: 40_000, avgActiveMs: 40_000 },
    { path: '/early', views: 1, measuredViews: 0, activeMs: 15_000, avgActiveMs: 15_000 }
  ])
})

t.test('top 10 paths per day and over the range, the rest as "other"; nothing lost', async (t) => {
  const entries: TimedEntry[] = []
  // Day 1: /p0…/p11, path i viewed i+1 times, each view measured at 1 s. Day 2: /late 20 views.
  for (let i = 0; i < 12; i++) {
    for (let v = 0; v <= i; v++) {
      const at = iso('2026-06-01T08:00:00Z') + i * 1000 + v
      entries.push({ t: at, user: 'u', ...pageview(`/p${i}`, 's') },
        { t: at, user: 'u', ...leave(`/p${i}`, 's', { activeMs: 1000 }) })
    }
  }
  for (let v = 0; v < 20; v++) {
    entries.push({ t: iso('2026-06-02T08:00:00Z') + v, user: 'u', ...pageview('/late', 's') })
  }
  await writeEntries(db, keys, entries, 'UTC')
  const report = await buildReport(db, keys, new DayClock('UTC'), 2, iso('2026-06-02T12:00:00Z'))
  const [d1, d2] = report.timeOnPage.days
  t.same(d1?.pages.map((r) => r.path),
    ['/p11', '/p10', '/p9', '/p8', '/p7', '/p6', '/p5', '/p4', '/p3', '/p2', 'other'])
  t.same(rowOf(d1?.pages ?? [], 'other'),
    { path: 'other', views: 3, measuredViews: 3, activeMs: 3000, avgActiveMs: 1000 })
  t.same(d2?.pages, [{ path: '/late', views: 20, measuredViews: 0, activeMs: 0, avgActiveMs: 0 }])
  const range = report.timeOnPage.pages
  t.same(range.map((r) => r.path), ['/late', '/p11', '/p10', '/p9', '/p8', '/p7', '/p6', '/p5', '/p4', '/p3', 'other'])
  t.same(rowOf(range, 'other'), { path: 'other', views: 6, measuredViews: 6, activeMs: 6000, avgActiveMs: 1000 })
  t.equal(range.reduce((a, r) => a + r.views, 0), 78 + 20)
  t.match(report.timeOnPage, { views: 98, measuredViews: 78, activeMs: 78_000 })
})

t.test('Redis work per entry: a session_end with activeMs adds three merged ops, a heartbeat one', async (t) => {
  const contributor = reportContributor({ settings: validateOptions({}), keys })
  const settings = { keys, maxEntries: 10, ttl: 60, indexCap: 1000, publish: false }
  const now = iso('2026-06-01T12:00:00Z')
  const ops = (entries: Fields[]): Map<string, number> => {
    const call = buildScriptCall('w', 1, entries.map((e, i) => ({ id: `e${i}`, t: now + i, user: 'u', ...e }) as Entry),
      settings, [contributor], now)
    const counts = new Map<string, number>()
    const argv = call.argv.values
    // The ops follow the users' entries and paths; each is [op, key index, arg1, arg2] (PFADD: n elements).
    for (let i = 0; i < argv.length; i++) {
      const op = argv[i] as string
      if (/^(HINCRBY|HINCRCAP|HMAXSUM|HMIN|HMAX|PFADD|EXPIRE)$/.test(op) && /^\d+$/.test(argv[i + 1] ?? '')) {
        counts.set(op, (counts.get(op) ?? 0) + 1)
      }
    }
    return counts
  }
  const delta = (a: Map<string, number>, b: Map<string, number>): Record<string, number> => {
    const out: Record<string, number> = {}
    for (const op of new Set([...a.keys(), ...b.keys()])) {
      const n = (a.get(op) ?? 0) - (b.get(op) ?? 0)
      if (n !== 0) out[op] = n
    }
    return out
  }
  const base = ops([leave('/x', 's')])
  t.same(delta(ops([leave('/x', 's', { activeMs: 30_000 })]), base), { HINCRCAP: 3, EXPIRE: 3 },
    'active, measured, beats (and their EXPIRE once per batch)')
  t.same(delta(ops([leave('/x', 's', { activeMs: 3000 })]), base), { HINCRCAP: 2, EXPIRE: 2 },
    'a leave under one heartbeat covers none: no beats op')
  t.same(delta(ops([leave('/x', 's', { activeMs: 30_000 }), leave('/x', 's', { activeMs: 20_000 })]),
    ops([leave('/x', 's'), leave('/x', 's')])), { HINCRCAP: 3, EXPIRE: 3 }, 'merged per batch and path')
  t.same(delta(ops([heartbeat('/x', 's')]), ops([{ kind: 'heartbeat', src: 'client', sid: 's' }])),
    { HINCRCAP: 1, EXPIRE: 1 })
  t.same(delta(ops(Array.from({ length: 50 }, () => heartbeat('/x', 's'))),
    ops(Array.from({ length: 50 }, () => ({ kind: 'heartbeat', src: 'client', sid: 's' })))),
  { HINCRCAP: 1, EXPIRE: 1 }, '50 heartbeats of one path: still one op')
})

t.test('GET /api/report/time-on-page.csv: the range table as a file, formula cells neutralised', async (t) => {
  const { app } = await buildApp({ redis: redis.url })
  t.teardown(() => app.close())
  app.userlog.record('alice', pageview('/docs', 'a'))
  app.userlog.record('alice', leave('/docs', 'a', { activeMs: 12_345 }))
  app.userlog.record('alice', pageview('=HYPERLINK("http://evil.test","x")', 'a'))
  app.userlog.record('alice', heartbeat('=HYPERLINK("http://evil.test","x")', 'a'))
  await app.userlog.flush()
  const res = await app.inject({ url: '/userlog/api/report/time-on-page.csv?days=3', headers: asAdmin })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/csv; charset=utf-8/)
  const report = (await app.inject({ url: '/userlog/api/report?days=3', headers: asAdmin })).json<Report>()
  t.equal(res.headers['content-disposition'],
    `attachment; filename="userlog-time-on-page-${report.from}-${report.to}.csv"`)
  t.equal(res.body, [
    'path,views,measuredViews,activeSeconds,avgActiveSeconds',
    '"\'=HYPERLINK(""http://evil.test"",""x"")",1,0,15.0,15.0',
    '/docs,1,1,12.3,12.3',
    '(all pages),2,1,27.3,13.7',
    ''
  ].join('\r\n'))
  for (const [url, status] of [
    ['/userlog/api/report/time-on-page.csv?days=32', 400], ['/userlog/api/report/time-on-page.csv?x=1', 400]
  ] as const) {
    t.equal((await app.inject({ url, headers: asAdmin })).statusCode, status, url)
  }
  t.equal((await app.inject({ url: '/userlog/api/report/time-on-page.csv', headers: asUser('alice') })).statusCode, 403)
})
