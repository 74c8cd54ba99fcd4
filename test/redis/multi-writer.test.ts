// Several host processes writing for the same users into one Redis: two apps in two child
// processes, then two workers of Node's cluster module sharing a port, each serving real HTTP
// requests for the same 20 users. Nothing is lost or doubled, the per-user cap is exact, the
// report counts every request once, and live viewers (one user, all users) get each entry once,
// in the order Redis stored them.
import t, { type Test } from 'tap'
import type { ChildProcess } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisServer } from '../helpers/redis.js'
import { asAdmin, asUser } from '../helpers/app.js'
import { spawnSource } from '../helpers/spawn-source.js'
import { Client, eventually, keys, mint, startServer } from '../helpers/realtime.js'
import type { Report } from '../../src/report/report.js'
import type { WriterStats } from '../../src/types.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
const rt = await startServer({ redis: redis.url })
t.teardown(() => rt.app.close())

const USERS = Array.from({ length: 20 }, (_, i) => `mw${i}`)
const PER_USER = 40
const MAX_ENTRIES = 25
const FIXTURE = 'test/fixtures/host-app.ts'

/** Starts the fixture; resolves with the port(s) it listens on (compiling on the fly takes a while). */
async function startHost (t: Test, args: string[]): Promise<number[]> {
  const child: ChildProcess = spawnSource(FIXTURE, [redis.url, String(MAX_ENTRIES), ...args])
  t.teardown(() => { child.kill('SIGTERM') })
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the host app did not start')), 90_000)
    child.once('exit', (code) => reject(new Error(`the host app exited with ${String(code)}`)))
    child.on('message', (msg: { port: number, ports?: number[] }) => {
      clearTimeout(timer)
      resolve(msg.ports ?? [msg.port])
    })
  })
}

async function get (port: number, path: string, headers: Record<string, string>): Promise<Response> {
  return await fetch(`http://127.0.0.1:${port}${path}`, { headers })
}

/** Every writer's counters: /_stats asked on each port in turn until each process id has answered. */
type ProcessStats = WriterStats & { pid: number }
async function writerStats (ports: number[], writers: number): Promise<ProcessStats[]> {
  const byPid = new Map<number, ProcessStats>()
  for (let i = 0; i < 200 && byPid.size < writers; i++) {
    const s = await (await get(ports[i % ports.length] as number, '/_stats', {})).json() as ProcessStats
    byPid.set(s.pid, s)
  }
  return [...byPid.values()]
}

async function scenario (t: Test, ports: number[], writers: number): Promise<void> {
  await db.flushall()
  await eventually(() => rt.app.userlogRealtime.hub.redisUp, 10_000, 'the realtime server')
  const watched = USERS[0] as string
  const one = await Client.viewer(rt.url, await mint(db, watched))
  const all = await Client.viewer(rt.url, await mint(db, '*'))
  t.teardown(() => { one.close(); all.close() })
  for (const c of [one, all]) await c.until((ms) => ms.some((m) => m.type === 'backlog'), 10_000, 'the backlog')

  // Real HTTP load: the requests of every user alternate between the writers' ports, 20 at once.
  const served = new Map<string, number>(USERS.map((u) => [u, 0]))
  let next = 0
  const jobs = USERS.flatMap((user) => Array.from({ length: PER_USER }, (_, i) => ({ user, i })))
  await Promise.all(Array.from({ length: 20 }, async () => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      const res = await get(ports[job.i % ports.length] as number, `/items/${job.user}-${job.i}`, asUser(job.user))
      await res.arrayBuffer()
      if (res.status === 200) served.set(job.user, (served.get(job.user) ?? 0) + 1)
    }
  }))
  const total = [...served.values()].reduce((a, b) => a + b, 0)
  t.equal(total, USERS.length * PER_USER, 'every request was answered')

  // The writers flush within milliseconds; wait until their counters say everything is written.
  await eventually(async () => {
    const stats = await writerStats(ports, writers)
    return stats.length === writers && stats.reduce((n, s) => n + s.written, 0) >= total
  }, 20_000, 'every entry written')
  await sleep(200)
  const stats = await writerStats(ports, writers)
  t.equal(stats.length, writers, `${writers} processes wrote`)
  t.ok(stats.every((s) => s.written > 0), 'each of them wrote entries')
  t.equal(stats.reduce((n, s) => n + s.written, 0), total, 'written once each, across the writers')
  t.same(stats.map((s) => [s.dropped, s.buffered]), stats.map(() => [0, 0]), 'nothing dropped or left')

  // Redis: each user's last MAX_ENTRIES entries, no id or request twice.
  for (const user of USERS) {
    const list = (await db.lrange(keys.log(user), 0, -1)).map((s) => JSON.parse(s) as { id: string, path: string })
    t.equal(list.length, Math.min(served.get(user) ?? 0, MAX_ENTRIES), `${user}: exactly the cap`)
    t.equal(new Set(list.map((e) => e.id)).size, list.length, `${user}: ids unique`)
    t.equal(new Set(list.map((e) => e.path)).size, list.length, `${user}: no request twice`)
    t.ok(list.every((e) => e.path.startsWith(`/items/${user}-`)), `${user}: only its own requests`)
  }

  // The report counts every request once, whichever process served it.
  const res = await get(ports[1 % ports.length] as number, '/userlog/api/report?days=1', asAdmin)
  t.equal(res.status, 200)
  const report = await res.json() as Report
  t.equal(report.summary.requests, total, 'report: every request once')
  t.equal(report.summary.users, USERS.length, 'report: every user')
  t.same(report.days[0]?.routes, { '/items/:id': total }, 'report: one route, every request')

  // Live: the watched user's viewer and the all-users viewer, each entry once, in stored order.
  await one.until(() => one.entries().length >= PER_USER, 10_000, 'the watched user\'s entries')
  await all.until(() => all.entries().length >= total, 10_000, 'every user\'s entries')
  await sleep(200)
  const seen = one.entries()
  t.equal(seen.length, served.get(watched), 'the viewer got each of the user\'s entries')
  t.equal(new Set(seen.map((e) => e.id)).size, seen.length, 'once each')
  const stored = (await db.lrange(keys.log(watched), 0, -1)).map((s) => (JSON.parse(s) as { id: string }).id).reverse()
  t.same(seen.slice(-MAX_ENTRIES).map((e) => e.id), stored, 'in the order Redis stored them')
  const everyone = all.entries()
  t.equal(everyone.length, total, 'the all-users viewer got every entry')
  t.equal(new Set(everyone.map((e) => e.id)).size, total, 'once each')
  for (const user of USERS) {
    const mine = everyone.filter((e) => e.user === user).map((e) => e.id)
    const log = (await db.lrange(keys.log(user), 0, -1)).map((s) => (JSON.parse(s) as { id: string }).id).reverse()
    t.same(mine.slice(-MAX_ENTRIES), log, `${user}: all-users stream in stored order`)
  }
}

// The children compile the fixture on the fly: start every process at once.
const started = Promise.all([
  startHost(t, []), startHost(t, []), startHost(t, ['cluster'])
])

t.test('two apps in two processes', async (t) => {
  const [a, b] = await started
  await scenario(t, [a?.[0] as number, b?.[0] as number], 2)
})

t.test('two workers of the cluster module on one port', async (t) => {
  const [, , workers] = await started
  t.equal(workers?.length, 2)
  t.equal(workers?.[0], workers?.[1], 'one port for both workers')
  await scenario(t, [workers?.[0] as number], 2)
})
