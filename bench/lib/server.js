// One server variant of bench/overhead.js, run in its own process so that its CPU time can be
// measured alone. Usage: fork('server.js', [variant, redisUrl, prefix, pluginModule?]).
//
//   bare         hello world; an onRequest hook sets req.user from the x-user header
//   empty-hook   bare + an empty callback-style onResponse hook (what any onResponse hook costs)
//   logger       bare with Fastify's logger: true, written to /dev/null (pino's own cost)
//   plugin       bare + fastify-userlog (dist/), writing to Redis at redisUrl under `prefix`
//
// IPC: sends { type: 'ready', port }; answers { type: 'snap', id, flush } with its CPU time
// (process.cpuUsage, µs), the requests served so far, the plugin's stats() and the Redis
// commands sent so far by name. Those are counted where ioredis sends them (every command of a
// Redis client goes through sendCommand), because Redis' own INFO commandstats also counts each
// redis.call() made inside a script; the plugin keeps its default, self-created client.
// With flush: true it first waits until everything buffered is written, so the write cost of
// the requests of a window is counted in that window.
// { type: 'profile-start', id } and { type: 'profile-stop', id, file } run the V8 sampling
// profiler over just the measured windows (not start-up) and write a .cpuprofile.
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import Fastify from 'fastify'
import { userFromHeader } from './host.js'

const [variant, redisUrl, prefix, pluginModule = '../../dist/index.js'] = process.argv.slice(2)

const sent = {}
// ioredis is loaded by the plugin variant only: the bare variants are a host without it.
if (variant === 'plugin') {
  const { Redis } = await import('ioredis')
  const sendCommand = Redis.prototype.sendCommand
  Redis.prototype.sendCommand = function (command, stream) {
    sent[command.name] = (sent[command.name] ?? 0) + 1
    return sendCommand.call(this, command, stream)
  }
}
const app = Fastify({ logger: variant === 'logger' ? { level: 'info', file: '/dev/null' } : false })

userFromHeader(app)

if (variant === 'empty-hook') {
  app.addHook('onResponse', (_req, _reply, done) => { done() })
} else if (variant === 'plugin') {
  const { userlog } = await import(pluginModule)
  await app.register(userlog, {
    redis: redisUrl,
    prefix,
    // High enough that every entry of a round stays in its log, so the bench can count them.
    maxEntries: 100_000,
    isAdmin: () => false
  })
} else if (variant !== 'bare' && variant !== 'logger') {
  throw new Error(`unknown variant ${variant}`)
}

let served = 0
const HELLO = { hello: 'world' }
app.get('/hello', (_req, reply) => {
  served++
  reply.send(HELLO)
})

await app.listen({ port: 0, host: '127.0.0.1' })
process.send({ type: 'ready', port: app.server.address().port })

let session = null
process.on('message', (msg) => {
  if (msg.type === 'snap') {
    const flushed = msg.flush && app.hasDecorator('userlog') ? app.userlog.flush() : Promise.resolve()
    flushed.then(() => {
      const cpu = process.cpuUsage()
      process.send({
        type: 'snap',
        id: msg.id,
        cpu: cpu.user + cpu.system,
        cpuSystem: cpu.system,
        served,
        sent: { ...sent },
        stats: app.hasDecorator('userlog') ? app.userlog.stats() : null
      })
    })
  } else if (msg.type === 'profile-start') {
    session = new Session()
    session.connect()
    session.post('Profiler.enable', () => {
      session.post('Profiler.setSamplingInterval', { interval: 200 }, () => {
        session.post('Profiler.start', () => process.send({ type: 'profile', id: msg.id }))
      })
    })
  } else if (msg.type === 'profile-stop') {
    session.post('Profiler.stop', (err, result) => {
      if (err === null) writeFileSync(msg.file, JSON.stringify(result.profile))
      session.disconnect()
      process.send({ type: 'profile', id: msg.id, error: err?.message })
    })
  } else if (msg.type === 'exit') {
    // A clean exit, so that --cpu-prof writes its profile.
    app.close().finally(() => process.exit(0))
  }
})
process.on('disconnect', () => process.exit(0))
