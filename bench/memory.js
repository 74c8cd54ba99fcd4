#!/usr/bin/env node
// Bytes of Redis memory per stored entry. A Fastify app with the plugin (dist/) serves realistic
// requests through inject() (the hook runs as for a real request) from 1,000 users until each has
// a full log (default maxEntries, 100), then:
//   total   growth of Redis' used_memory (INFO memory) ÷ entries: logs, the users index, the
//           report counters and key overhead, everything the plugin keeps
//   log     MEMORY USAGE of the users' log lists ÷ entries: the lists alone
//   json    the average entry as stored (its JSON text)
// Redis runs privately on a free port with no persistence.
//
//   node bench/memory.js [--quick] [--json]        (uses dist/: `npm run build` first)
import { parseArgs } from 'node:util'
import Fastify from 'fastify'
import { userlog } from '../dist/index.js'
import { Keys } from '../dist/shared/keys.js'
import { startRedis, parseInfo } from './lib/redis.js'
import { userFromHeader } from './lib/host.js'
import { printResults } from './lib/machine.js'
import { BROWSER_UA } from './lib/users.js'

const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }
  }
})
const USERS = opt.quick ? 200 : 1000
const PER_USER = 100 // the default maxEntries: every log ends full

const UAS = [
  BROWSER_UA,
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0'
]

async function usedMemory (db) {
  return Number(parseInfo(await db.info('memory')).used_memory)
}

async function main () {
  const redis = await startRedis()
  const db = redis.client()
  try {
    const app = Fastify({ logger: false })
    userFromHeader(app)
    await app.register(userlog, { redis: redis.url, isAdmin: () => false })
    app.get('/orders/:id', async () => ({ ok: true }))
    app.get('/search', async () => ({ ok: true }))
    await app.ready()
    await app.userlog.flush()
    const before = await usedMemory(db)

    let served = 0
    for (let round = 0; round < PER_USER; round++) {
      const batch = []
      for (let u = 0; u < USERS; u++) {
        const url = round % 3 === 0 ? `/search?q=red+shoes&page=${round}` : `/orders/${100_000 + round * USERS + u}`
        const headers = { 'x-user': `customer${u}@example.com`, 'user-agent': UAS[u % UAS.length] }
        batch.push(app.inject({ url, headers, remoteAddress: '203.0.113.7' }))
      }
      await Promise.all(batch)
      served += batch.length
      await app.userlog.flush()
    }
    const stats = app.userlog.stats()
    const after = await usedMemory(db)

    const keys = new Keys('userlog')
    let listBytes = 0
    let entries = 0
    let jsonBytes = 0
    for (let u = 0; u < USERS; u++) {
      const key = keys.log(`customer${u}@example.com`)
      listBytes += Number(await db.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'))
      const items = await db.lrange(key, 0, -1)
      entries += items.length
      for (const item of items) jsonBytes += Buffer.byteLength(item)
    }
    await app.close()
    if (entries !== served) {
      throw new Error(`${served} requests served but ${entries} entries stored (stats: ${JSON.stringify(stats)})`)
    }

    const round0 = (x) => Math.round(x)
    const results = [
      {
        name: `Redis memory per entry, all keys (${USERS.toLocaleString('en')} users × ${PER_USER} entries)`,
        value: round0((after - before) / entries), unit: 'B', goal: '', pass: null
      },
      {
        name: 'Redis memory per entry, log lists only (MEMORY USAGE)', value: round0(listBytes / entries),
        unit: 'B', goal: '', pass: null
      },
      { name: 'stored entry JSON, average', value: round0(jsonBytes / entries), unit: 'B', goal: '', pass: null },
      {
        name: 'Redis memory for the whole run', value: Math.round((after - before) / 1024 / 1024 * 10) / 10,
        unit: 'MiB', goal: '', pass: null
      },
      { name: 'entries dropped (buffer full)', value: stats.dropped, unit: '', goal: '0', pass: stats.dropped === 0 }
    ]
    const extra = { users: USERS, entries }
    printResults({ benchmark: 'memory', title: 'Redis memory per stored entry', results, json: opt.json, extra })
  } finally {
    db.disconnect()
    await redis.stop()
  }
}

main().catch((err) => {
  console.error(err)
  process.exitCode = 2
})
