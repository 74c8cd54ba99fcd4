// Several realtime servers on one Redis (as behind a load balancer): each holds its own two
// connections, whatever its number of viewers, and delivers every entry to each of its own
// viewers exactly once.
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisServer } from '../helpers/redis.js'
import { Client, entry, eventually, mint, startServer, write, type TestEntry } from '../helpers/realtime.js'

const redis = await RedisServer.start()
const db = new Redis(redis.url)
t.teardown(async () => {
  db.disconnect()
  await redis.stop()
})

async function clientNames (): Promise<string[]> {
  const list = await db.client('LIST') as string
  return list.split('\n').map((l) => /\bname=(\S*)/.exec(l)?.[1] ?? '').filter((n) => n.startsWith('userlog-realtime'))
}

t.test('two servers, viewers on both: every entry reaches every viewer exactly once', async (t) => {
  const servers = [await startServer({ redis: redis.url }), await startServer({ redis: redis.url })]
  t.teardown(async () => { for (const s of servers) await s.app.close() })
  const users = ['ann', 'bob', 'c:y {z}']
  // An earlier entry of each user: the backlog.
  const old = users.map((u) => entry(u))
  await write(db, old)

  const viewers: Array<{ c: Client, user: string | null }> = []
  for (const s of servers) {
    for (const user of [...users, ...users, null, null]) {
      viewers.push({ c: await Client.viewer(s.url, await mint(db, user ?? '*')), user })
    }
  }
  t.teardown(() => { for (const v of viewers) v.c.close() })
  for (const v of viewers) await v.c.until((ms) => ms.some((m) => m.type === 'backlog'))

  const names = await clientNames()
  t.equal(names.filter((n) => n === 'userlog-realtime-sub').length, 2, 'one subscriber connection per server')
  t.equal(names.filter((n) => n === 'userlog-realtime').length, 2, 'one command connection per server')

  // Hundreds of entries in batches, while a few more viewers join half-way.
  const written: TestEntry[] = []
  const late: Array<{ c: Client, user: string | null }> = []
  for (let i = 0; i < 100; i++) {
    const batch = users.map((u) => entry(u))
    written.push(...batch)
    await write(db, batch)
    if (i === 50) {
      for (const s of servers) late.push({ c: await Client.viewer(s.url, await mint(db, 'ann')), user: 'ann' })
    }
  }
  t.teardown(() => { for (const v of late) v.c.close() })
  for (const v of viewers) {
    const want = [...old, ...written]
      .filter((e) => v.user === null ? written.includes(e) : e.user === v.user)
      .map((e) => e.id)
    await v.c.until(() => v.c.entries().length >= want.length, 10_000, `entries of ${v.user ?? '*'}`)
    const got = v.c.entries().map((e) => e.id)
    t.same(got, want, `${v.user ?? '*'}: every entry once, in order`)
  }
  for (const v of late) {
    // A late viewer gets the capped backlog, then the rest live: no gap and no double.
    const all = [...old, ...written].filter((e) => e.user === 'ann').map((e) => e.id)
    await v.c.until(() => v.c.entries().at(-1)?.id === all.at(-1), 10_000, 'the late viewer catching up')
    const got = v.c.entries().map((e) => e.id)
    t.equal(new Set(got).size, got.length, 'no entry twice')
    t.same(got, all.slice(all.length - got.length), 'a contiguous tail of the log')
  }
  await eventually(async () => {
    const n = await db.pubsub('NUMSUB', 'userlog:live:{ann}') as [string, number]
    return n[1] === 2
  }, 5000, 'one subscription per server, however many viewers')
})

t.test('child processes: two `userlog realtime` servers on two ports', async (t) => {
  const { spawnSource } = await import('../helpers/spawn-source.js')
  const { freePort } = await import('../helpers/redis.js')
  const procs: Array<ReturnType<typeof spawnSource>> = []
  t.teardown(() => { for (const p of procs) p.kill('SIGTERM') })
  const urls: string[] = []
  for (let i = 0; i < 2; i++) {
    const port = await freePort()
    // The CLI from src/, compiled on the fly by the same loader tap runs this file with.
    const p = spawnSource('src/cli/main.ts',
      ['realtime', '--port', String(port), '--redis', redis.url, '--log-level', 'warn'],
      { stdio: ['ignore', 'ignore', 'inherit'] })
    procs.push(p)
    urls.push(`http://127.0.0.1:${port}`)
  }
  for (const u of urls) {
    await eventually(async () => {
      try { return (await fetch(`${u}/healthz`)).ok } catch { return false }
    }, 20_000, `${u}/healthz`)
  }
  const viewers = await Promise.all(urls.flatMap((u) => [u, u]).map(async (u, i) =>
    await Client.viewer(u.replace('http:', 'ws:') + '/live', await mint(db, i % 2 === 0 ? 'dora' : '*'))))
  t.teardown(() => { for (const v of viewers) v.close() })
  for (const v of viewers) await v.until((ms) => ms.some((m) => m.type === 'backlog'))
  const written: TestEntry[] = []
  for (let i = 0; i < 200; i++) {
    const e = entry('dora')
    written.push(e)
    await write(db, [e])
  }
  for (const v of viewers) {
    await v.until(() => v.entries().length >= written.length, 10_000, 'every entry')
    t.same(v.entries().map((e) => e.id), written.map((e) => e.id), 'exactly once, in order')
  }
})
