// Viewers that vanish without closing: 1,000 held by a child process that is first frozen (the
// peers go silent and stop reading while entries are published to them: only the ping notices)
// and then 1,000 more in a child that is killed (the sockets drop with no close frame). Afterwards
// the realtime server holds no socket, no viewer and no Redis subscription, and its memory is back
// to where it was before.
import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { get } from 'node:http'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { RedisServer } from '../helpers/redis.js'
import { spawnSource } from '../helpers/spawn-source.js'
import { Client, entry, eventually, keys, mint, write } from '../helpers/realtime.js'

const VIEWERS = 1000
const USERS = Array.from({ length: 100 }, (_, i) => `user-${i}`)
const VIEWERS_JS = fileURLToPath(new URL('../fixtures/viewers.mjs', import.meta.url))

const redis = await RedisServer.start()
const db = new Redis(redis.url)
// The server runs from src/, compiled by the loader tap runs this file with.
const fixture = fileURLToPath(new URL('../fixtures/realtime-server.ts', import.meta.url))
const server = spawnSource(fixture, [redis.url, '1000'], { nodeArgs: ['--expose-gc'] })
const [{ port }] = await once(server, 'message') as [{ port: number }]
const srv = { url: `ws://127.0.0.1:${port}/live`, http: `http://127.0.0.1:${port}` }
t.teardown(async () => { server.kill('SIGTERM'); db.disconnect(); await redis.stop() })

/** The server's heap and buffers after a full collection. */
async function heapKept (): Promise<number> {
  const reply = once(server, 'message') as Promise<[{ memory: number }]>
  server.send('memory')
  return (await reply)[0].memory
}

async function metrics (): Promise<Record<string, number>> {
  // A connection of its own, closed after the reply, so it is not counted among the server's.
  const text = await new Promise<string>((resolve, reject) => {
    get(`${srv.http}/metrics`, { agent: false }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve(body))
    }).on('error', reject)
  })
  const out: Record<string, number> = {}
  for (const line of text.split('\n')) {
    const [name, value] = line.split(' ')
    if (name?.startsWith('userlog_realtime_') === true && value !== undefined) out[name] = Number(value)
  }
  return out
}

/** Subscribers Redis counts for every user channel and the all-users channel. */
async function subscriptions (): Promise<number> {
  const reply = await db.pubsub('NUMSUB', ...USERS.map((u) => keys.userChannel(u)), keys.allChannel) as
    Array<string | number>
  let n = 0
  for (let i = 1; i < reply.length; i += 2) n += Number(reply[i])
  return n
}

/** A child process holding `n` viewers (one in ten on the all-users stream), once all are streaming. */
async function viewersProcess (n: number): Promise<ReturnType<typeof spawn>> {
  const tokens: string[] = []
  for (let i = 0; i < n; i++) tokens.push(await mint(db, i % 10 === 9 ? '*' : `user-${Math.floor(i / 10) % 100}`))
  const child = spawn(process.execPath, [VIEWERS_JS], { stdio: ['pipe', 'pipe', 'inherit'] })
  child.stdin.end(JSON.stringify({ url: srv.url, tokens }))
  const [line] = await Promise.race([
    once(child.stdout, 'data') as Promise<Buffer[]>,
    once(child, 'exit').then(([code]) => { throw new Error(`the viewers process exited with ${String(code)}`) })
  ])
  if (!String(line).startsWith('ready')) throw new Error(`unexpected output: ${String(line)}`)
  return child
}

async function allGone (what: string): Promise<void> {
  await eventually(async () => {
    const m = await metrics()
    return m.userlog_realtime_viewers === 1 && m.userlog_realtime_connections === 1 && await subscriptions() === 1
  }, 20_000, what)
}

t.test('1,000 viewers frozen, then 1,000 killed: nothing leaks', async (t) => {
  // The one viewer that stays proves delivery goes on for the living.
  const stay = await Client.viewer(srv.url, await mint(db, 'stayer'))
  t.teardown(() => stay.close())
  USERS.push('stayer')
  // A first round of the same size warms the process up (code compiled, tables grown to 1,000
  // slots, pools allocated), so the baseline holds what any busy server keeps anyway.
  const warm = await viewersProcess(VIEWERS)
  warm.kill('SIGKILL')
  await allGone('the warm-up viewers to go')
  const baseline = await heapKept()

  const frozen = await viewersProcess(VIEWERS)
  t.teardown(() => frozen.kill('SIGKILL'))
  const m = await metrics()
  t.equal(m.userlog_realtime_viewers, VIEWERS + 1, `${VIEWERS} viewers streaming`)
  t.equal(await subscriptions(), USERS.length + 1, 'one subscription per watched channel, however many viewers')
  const peak = await heapKept()
  frozen.kill('SIGSTOP')
  // Entries keep coming for the silent viewers: their queues fill until the ping gives up on them.
  for (let i = 0; i < 20; i++) await write(db, USERS.map((u) => entry(u, { pad: 'x'.repeat(500) })))
  await allGone('the frozen viewers to be terminated')
  t.equal((await metrics())['userlog_realtime_viewers_closed_total{reason="unresponsive"}'], VIEWERS,
    'each was terminated for missing a ping')
  frozen.kill('SIGKILL')

  const killed = await viewersProcess(VIEWERS)
  killed.kill('SIGKILL')
  await allGone('the killed viewers to be dropped')

  const later = entry('stayer')
  await write(db, [later])
  await stay.until(() => stay.entries().some((e) => e.id === later.id), 10_000, 'delivery to the viewer that stayed')
  const channels = await db.pubsub('CHANNELS', `${keys.prefix}:*`) as string[]
  t.same(channels.sort(), [keys.userChannel('stayer')], 'Redis holds no subscription but the staying viewer\'s')
  t.equal((await db.keys(keys.token('*'))).length, 0, 'every token was used once and is gone')

  // Closed sockets are released over the next ticks: weigh until two readings agree.
  let end = await heapKept()
  for (let i = 0; i < 20; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250))
    const again = await heapKept()
    if (Math.abs(again - end) < 64 * 1024) break
    end = again
  }
  const mib = (b: number): string => (b / 1048576).toFixed(1)
  // A viewer costs about 9 KiB of heap: a leak of even a fifth of that per viewer would pass 2 MiB.
  t.ok(end - baseline < 2 * 1024 * 1024, `memory back to baseline: ${mib(baseline)} MiB before, ` +
    `${mib(peak)} with ${VIEWERS} viewers, ${mib(end)} after`)
  t.comment(`heap + buffers: ${mib(baseline)} MiB baseline, ${mib(peak)} MiB with ${VIEWERS} viewers, ` +
    `${mib(end)} MiB after ${2 * VIEWERS} vanished`)
})
