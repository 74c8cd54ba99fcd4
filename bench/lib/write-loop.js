// The write path in a loop, for bench/write-path.js to count its instructions under callgrind.
// Usage: node --single-threaded write-loop.js PLUGIN_DIST REDIS_URL USERS BATCH WARMUP BATCHES RATE
//   PLUGIN_DIST  a build's dist/ directory (file URL or path)
//   USERS        one | thousand | zipf
//   RATE         entries per second of the clock the plugin reads (below)
// Entries are made by the plugin's own requestEntry from a real Fastify request (a browser's
// User-Agent, a route with a parameter, a query), WARMUP + BATCHES batches of BATCH entries are
// pushed through the plugin's BatchWriter (with its report and session counters) to Redis, one
// flush per batch. Prints "warm" once WARMUP batches are written and waits for SIGUSR2, so that
// the counters can be zeroed before the measured batches; prints "done" at the end.
// The plugin's clock (Date.now) moves by BATCH ÷ RATE seconds per batch, not with the wall clock:
// what the writer does once a second per user (the users index) or once a minute (EXPIRE) then
// happens as often per entry as on a host serving RATE requests a second, however slowly
// callgrind runs the loop, and the same way every run.
import { pathToFileURL } from 'node:url'
import Fastify from 'fastify'
import { BROWSER_UA as UA, THOUSAND_USERS, zipf } from './users.js'

const [dist, redisUrl, set, batchArg, warmupArg, batchesArg, rateArg] = process.argv.slice(2)
const base = dist.startsWith('file:') ? dist : pathToFileURL(dist).href
const load = async (path) => await import(`${base}/${path}`)
const { BatchWriter } = await load('write/writer.js')
const { requestEntry } = await load('write/entry.js')
const { Keys } = await load('shared/keys.js')
const { validateOptions } = await load('options.js')
const { reportContributor } = await load('report/counters.js')
const { sessionContributor } = await load('collector/sessions.js')
const { Redis } = await import('ioredis')

const USERS = {
  one: ['alice'],
  thousand: THOUSAND_USERS,
  zipf: zipf(10_000, 50_000)
}[set]

// One real request, answered by Fastify, gives the req and reply the hook would see.
const app = Fastify()
let seen = null
app.addHook('onResponse', (req, reply, done) => { seen = { req, reply }; done() })
app.get('/items/:id', (_req, reply) => { reply.send({ ok: true }) })
await app.inject({ url: '/items/12?page=2', headers: { 'user-agent': UA } })
const { req, reply } = seen
const noRedaction = new Set()
// Builds of before and after the route argument was added to requestEntry both work.
const entryOf = requestEntry.length >= 5
  ? (user) => requestEntry(req, reply, user, noRedaction, '/items/:id')
  : (user) => requestEntry(req, reply, user, noRedaction)

const settings = validateOptions({ redis: redisUrl })
const keys = new Keys('writeloop')
const contributors = [sessionContributor({ settings, keys }), reportContributor({ settings, keys })]
  .filter((c) => c !== null)
const client = new Redis(redisUrl)
const quiet = { debug () {}, info () {}, warn () {}, error (...a) { console.error(...a) }, child () { return quiet } }
const writer = new BatchWriter(client, {
  keys, maxEntries: settings.maxEntries, ttl: settings.ttl, indexCap: 100_000, publish: true
}, 1_000_000, quiet, contributors)

const size = Number(batchArg)
let clock = Date.now()
Date.now = () => Math.floor(clock)
let u = 0
async function run (batches) {
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < size; i++) writer.push(entryOf(USERS[u++ % USERS.length]))
    await writer.flush()
    clock += size * 1000 / Number(rateArg)
  }
}
await run(Number(warmupArg))
const resume = new Promise((resolve) => process.once('SIGUSR2', resolve))
console.log('warm')
await resume
await run(Number(batchesArg))
const { dropped, failedBatches } = writer.stats()
if (dropped !== 0 || failedBatches !== 0) throw new Error(`the writer dropped ${dropped} and failed ${failedBatches}`)
console.log('done')
await writer.close(5000)
client.disconnect()
await app.close()
