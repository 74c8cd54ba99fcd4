// Property-based fuzzing of the realtime server's first WebSocket message, over real sockets and a
// real redis-server: whatever a client sends first, it is refused with 4401 (never a crash, a 1011
// or a hello), no grant is consumed by a malformed message, and no socket is left behind.
// USERLOG_FUZZ_RUNS sets the inputs (1,000 here; `make fuzz` runs 10,000).
import t from 'tap'
import fc from 'fast-check'
import { RedisServer } from '../helpers/redis.js'
import { Client, keys, mint, startServer, eventually } from '../helpers/realtime.js'
import { readToken } from '../../src/realtime/index.js'

const RUNS = Number(process.env.USERLOG_FUZZ_RUNS ?? 1000)
/** Connections fuzzed at once: enough to be quick, few enough to keep the server's order of events varied. */
const PARALLEL = 25

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })

/** First messages: random text, random JSON, token-shaped objects, and a real grant in the wrong place. */
function firstMessages (real: string): fc.Arbitrary<{ data: string | Buffer, binary: boolean }> {
  const text = fc.oneof(
    fc.string({ maxLength: 300 }),
    fc.string({ unit: 'binary', maxLength: 300 }),
    fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.record({ token: fc.oneof(fc.string({ maxLength: 300 }), fc.jsonValue()) }, { requiredKeys: [] })
      .map((v) => JSON.stringify(v)),
    fc.constantFrom(
      JSON.stringify({ tok: real }), JSON.stringify([real]), JSON.stringify({ token: [real] }),
      JSON.stringify({ token: { token: real } }), JSON.stringify({ token: ` ${real}` }),
      JSON.stringify({ token: real + '\u0000' }), JSON.stringify({ token: real, pad: 'x'.repeat(5000) }),
      `{"__proto__":{"token":"${real}"}}`, JSON.stringify(real), real
    )
  ).map((data) => ({ data, binary: false }))
  const binary = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.constant(Buffer.from(JSON.stringify({ token: real })))
  ).map((data) => ({ data, binary: true }))
  return fc.oneof({ weight: 4, arbitrary: text }, { weight: 1, arbitrary: binary })
}

t.test('readToken: null, or exactly the token field of a JSON object, printable and bounded', async (t) => {
  const messages = fc.oneof(fc.string(), fc.jsonValue().map((v) => JSON.stringify(v)),
    fc.record({ token: fc.string() }).map((v) => JSON.stringify(v)))
  fc.assert(fc.property(messages, (s) => {
    const token = readToken(Buffer.from(s), false)
    if (token === null) return true
    const parsed = JSON.parse(s) as { token: unknown }
    return parsed.token === token && /^[\x21-\x7e]{1,256}$/.test(token)
  }), { numRuns: RUNS * 10 })
  t.equal(readToken(Buffer.from('{"token":"abc"}'), true), null, 'binary frames are never tokens')
})

t.test('random first messages over real sockets: always 4401, no grant consumed, nothing leaked', async (t) => {
  const srv = await startServer({ redis: redis.url })
  t.teardown(() => srv.app.close())
  const real = await mint(db, 'alice')
  const samples = fc.sample(firstMessages(real), { numRuns: RUNS })
  const codes = new Map<number, number>()
  for (let i = 0; i < samples.length; i += PARALLEL) {
    await Promise.all(samples.slice(i, i + PARALLEL).map(async ({ data, binary }) => {
      const c = await Client.open(srv.url)
      c.ws.send(data, { binary })
      // Refused (closed) or, if the message got through, a hello: stop at whichever comes first.
      await c.until((ms) => ms.length > 0 || c.closeInfo !== null, 5000, 'a refusal')
      if (c.closeInfo === null) c.close()
      const code = c.closeInfo?.code ?? 0
      codes.set(code, (codes.get(code) ?? 0) + 1)
      if (code !== 4401 || c.messages.length > 0) {
        t.fail(`closed ${code} after ${c.messages.length} messages for ${JSON.stringify(String(data).slice(0, 80))}`)
      }
    }))
  }
  t.same([...codes], [[4401, RUNS]], `${RUNS} connections, every one refused with 4401`)
  const stats = srv.app.userlogRealtime.stats()
  t.equal(stats.refused.invalid + stats.refused.token, RUNS)
  t.equal(await db.exists(keys.token(real)), 1, 'the grant inside malformed messages was never taken')
  await eventually(async () => /userlog_realtime_connections 0\b/.test(await (await fetch(`${srv.http}/metrics`)).text()), 5000, 'no open connection left')
  const viewer = await Client.viewer(srv.url, real)
  t.same(viewer.messages[0], { type: 'hello', user: 'alice' }, 'still serving, and the grant still works')
  viewer.close()
})
