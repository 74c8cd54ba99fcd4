// Redis over TLS with a private CA, as managed services run it: the plugin, the realtime server and
// `userlog tail` connect with rediss:// and the CA they are given; with the wrong CA they say which
// certificate problem it is, and nothing hangs: the host still answers its requests.
import t from 'tap'
import { TlsRedisServer } from '../helpers/tls.js'
import { buildApp, asUser } from '../helpers/app.js'
import { Client, entry, eventually, mint, startServer } from '../helpers/realtime.js'
import { Keys } from '../../src/shared/keys.js'
import { runCli } from '../../src/cli/run.js'

const redis = await TlsRedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
const keys = new Keys('userlog')
const CERTIFICATE_PROBLEM = /self[- ]signed|unable to verify|certificate/i

t.test('the plugin writes over TLS with ioredis options carrying the CA', async (t) => {
  const { app } = await buildApp({ redis: { host: '127.0.0.1', port: redis.port, tls: { ca: redis.ca } } })
  t.teardown(() => app.close())
  t.equal((await app.inject({ url: '/hello', headers: asUser('tina') })).statusCode, 200)
  await app.userlog.flush()
  t.equal(app.userlog.stats().redis, 'up')
  const [stored] = await db.lrange(keys.log('tina'), 0, -1)
  t.match(JSON.parse(stored ?? '{}'), { user: 'tina', path: '/hello', status: 200 })
})

t.test('a wrong CA: one warning naming the certificate problem, requests still answered at once', async (t) => {
  const started = Date.now()
  const { app, logs } = await buildApp({ redis: { host: '127.0.0.1', port: redis.port, tls: { ca: redis.otherCa } } })
  t.teardown(() => app.close())
  t.ok(Date.now() - started < 5000, 'start-up did not hang')
  const warning = logs.find((l) => String(l.msg).includes('Redis is not reachable yet'))
  t.match(warning, { level: 40, msg: CERTIFICATE_PROBLEM }, 'the warning says what is wrong with the certificate')
  const before = Date.now()
  t.equal((await app.inject({ url: '/hello', headers: asUser('tina') })).statusCode, 200)
  t.ok(Date.now() - before < 500, 'the request did not wait for Redis')
  t.equal(app.userlog.stats().buffered, 1, 'the entry waits in the buffer')
})

t.test('the realtime server streams over TLS with redisTls; a wrong CA is named in its warning', async (t) => {
  const srv = await startServer({ redis: redis.url, redisTls: { ca: redis.ca } })
  t.teardown(() => srv.app.close())
  await eventually(() => srv.app.userlogRealtime.hub.redisUp, 5000, 'connected over TLS')
  const c = await Client.viewer(srv.url, await mint(db, 'tina'))
  t.teardown(() => c.close())
  await c.until((ms) => ms.some((m) => m.type === 'backlog'))
  const e = entry('tina')
  await db.publish(keys.userChannel('tina'), JSON.stringify([e]))
  await c.until(() => c.entries().some((x) => x.id === e.id), 5000, 'a live entry over TLS')

  const wrong = await startServer({ redis: redis.url, redisTls: { ca: redis.otherCa } })
  t.teardown(() => wrong.app.close())
  t.match(wrong.logs.find((l) => l.msg.includes('not reachable yet')), { msg: CERTIFICATE_PROBLEM })
})

t.test('userlog tail --tls-ca follows a user over TLS; without it the certificate problem is printed', async (t) => {
  const lines: string[] = []
  const errors: string[] = []
  const io = { out: (l: string) => lines.push(l), err: (l: string) => errors.push(l) }
  const running = await runCli(['tail', 'tina', '--redis', redis.url, '--tls-ca', redis.caFile], {}, io)
  if (typeof running === 'number') throw new Error(`tail exited ${running}: ${errors.join('\n')}`)
  t.teardown(() => running.close())
  await eventually(() => lines.some((l) => l.includes('/hello')), 5000, 'the backlog printed')

  const wrongErrors: string[] = []
  const wrong = await runCli(['tail', 'tina', '--redis', redis.url, '--tls-ca', redis.otherCaFile], {},
    { out: () => {}, err: (l) => wrongErrors.push(l) })
  if (typeof wrong !== 'number') t.teardown(() => wrong.close())
  t.match(wrongErrors.join('\n'), CERTIFICATE_PROBLEM, 'the reason is printed')
  await t.rejects(runCli(['tail', 'tina', '--redis', redis.url, '--tls-ca', '/nonexistent/ca.pem'], {}, io),
    /--tls-ca: cannot read \/nonexistent\/ca.pem \(ENOENT\)/)
})
