// How soon a batch starts: entries nobody watches gather for BATCH_INTERVAL_MS, so that a busy
// host's batch carries many of them; once the write script has said that a user is watched
// live, that user's entries start a batch within LIVE_BATCH_INTERVAL_MS. The script's answer
// (which users of the batch it published) is checked against real leases.
import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { RedisServer } from '../helpers/redis.js'
import { Keys } from '../../src/shared/keys.js'
import { BatchWriter, BATCH_INTERVAL_MS, LIVE_BATCH_INTERVAL_MS } from '../../src/write/writer.js'
import { buildScriptCall } from '../../src/write/batch.js'
import { encodeScriptCall, runScript, script } from '../../src/write/resp.js'
import { WRITE_SCRIPT } from '../../src/write/script.js'
import { WatchedUsers } from '../../src/write/watched.js'
import type { Entry } from '../../src/types.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')
const settings = { keys, maxEntries: 100, ttl: 3600, indexCap: 1000, publish: true }
const quiet = {
  debug () {}, info () {}, warn () {}, error () {}, fatal () {}, trace () {}, child () { return quiet }, level: 'info'
}
let n = 0
const entry = (user: string): Entry => ({ id: `b${++n}`, t: Date.now(), user, kind: 'custom' })

t.test('the script answers with the watched users of its batch; the writer learns them', async (t) => {
  const watchedName = 'wätched one'
  await db.set(keys.watchLease(watchedName), '1', 'PX', 30_000)
  const write = async (entries: Entry[]): Promise<unknown> => {
    const call = buildScriptCall('w', ++n, entries, settings, [], Date.now())
    const lua = script(WRITE_SCRIPT)
    const encoded = encodeScriptCall(lua.sha, call.keys, call.argv)
    const reply = await runScript(db, lua, encoded, call.keys.values[0] as string)
    const watched = new WatchedUsers()
    watched.learn(reply, call.users, Date.now(), true)
    return { reply, watched: watched.has(watchedName), other: watched.has('other'), all: watched.all }
  }
  t.same(await write([entry('other'), entry(watchedName), entry('other')]),
    { reply: [0, 'w%C3%A4tched%20one'], watched: true, other: false, all: false }, 'the watched user, by tag')
  t.same(await write([entry('other')]), { reply: [0], watched: false, other: false, all: false })
  await db.set(keys.allWatchLease, '1', 'PX', 30_000)
  t.same(await write([entry('other')]), { reply: [1], watched: true, other: true, all: true },
    'with the all-users stream watched, every user is')
  // A batch Redis had applied already answers 0: nothing is learned from it.
  const again = new WatchedUsers()
  again.learn(0, [], Date.now(), true)
  t.equal(again.has('other'), false)
})

/** When each batch of `writer` was sent (ms), read from the client it writes with. */
function batchTimes (client: Redis): number[] {
  const times: number[] = []
  const send = client.sendCommand.bind(client)
  client.sendCommand = (command, stream) => {
    if (command.name === 'evalsha' || command.name === 'eval') times.push(performance.now())
    return send(command, stream)
  }
  return times
}

t.test('entries nobody watches wait for BATCH_INTERVAL_MS; a watched user\'s start a batch sooner', async (t) => {
  const client = new Redis(redis.port)
  t.teardown(() => client.disconnect())
  const times = batchTimes(client)
  const writer = new BatchWriter(client, settings, 10_000, quiet as never, [])
  t.teardown(() => writer.close(1000))
  await db.set(keys.watchLease('live'), '1', 'PX', 30_000)

  // Each round: one entry starts a batch at once (the writer was idle), the next, pushed while it
  // is in flight, waits for the interval. Timers never fire early, so the gaps have a floor.
  const gap = async (user: string): Promise<number> => {
    await sleep(BATCH_INTERVAL_MS + 5)
    const before = times.length
    writer.push(entry(user))
    writer.push(entry(user))
    while (times.length < before + 1) await sleep(1)
    await sleep(0)
    writer.push(entry(user))
    while (times.length < before + 2) await sleep(1)
    await writer.flush()
    return (times[before + 1] as number) - (times[before] as number)
  }
  // Times are read when each call is sent, after its batch is built: the median over rounds
  // keeps a slow build (a loaded machine) from deciding the figure.
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number
  const unwatched: number[] = []
  for (let i = 0; i < 7; i++) unwatched.push(await gap('nobody'))
  t.ok(median(unwatched) >= BATCH_INTERVAL_MS - 2, `unwatched gaps ${unwatched.map(Math.round).join(', ')} ms`)

  await gap('live') // the script says 'live' is watched
  const watched: number[] = []
  for (let i = 0; i < 7; i++) watched.push(await gap('live'))
  t.ok(median(watched) >= LIVE_BATCH_INTERVAL_MS - 2 && median(watched) < BATCH_INTERVAL_MS - 5,
    `watched gaps ${watched.map(Math.round).join(', ')} ms: a watched user's entries wait less`)
  t.equal(await db.llen(keys.log('live')), 3 * 8, 'every entry written')
})

t.test('a busy host: many entries nobody watches make few batches', async (t) => {
  const client = new Redis(redis.port)
  t.teardown(() => client.disconnect())
  const writer = new BatchWriter(client, settings, 10_000, quiet as never, [])
  t.teardown(() => writer.close(1000))
  const started = performance.now()
  for (let i = 0; i < 100; i++) {
    for (let j = 0; j < 10; j++) writer.push(entry(`u${j}`))
    await sleep(2)
  }
  await writer.flush()
  const elapsed = performance.now() - started
  const { batches, written } = writer.stats()
  t.equal(written, 1000)
  t.ok(batches <= elapsed / BATCH_INTERVAL_MS + 2, `${batches} batches in ${Math.round(elapsed)} ms`)
})
