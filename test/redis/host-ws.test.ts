// The host's own @fastify/websocket routes: a known user's connection is logged as a 101 request
// and a ws_close entry, with @fastify/websocket registered before the plugin or after it, against a
// real redis-server and a real `ws` client.
import t from 'tap'
import { once } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import websocket from '@fastify/websocket'
import { WebSocket } from 'ws'
import { RedisServer } from '../helpers/redis.js'
import { buildApp, asUser } from '../helpers/app.js'
import { Keys } from '../../src/shared/keys.js'
import type { UserlogOptions } from '../../src/index.js'

const redis = await RedisServer.start()
const db = redis.client()
t.teardown(async () => { db.disconnect(); await redis.stop() })
t.beforeEach(async () => { await db.flushall() })
const keys = new Keys('userlog')
const SECRET = 'card-4111-1111-1111-1111'

type Stored = Record<string, unknown>
const logOf = async (user: string): Promise<Stored[]> =>
  (await db.lrange(keys.log(user), 0, -1)).map((s) => JSON.parse(s) as Stored).reverse()

interface Host {
  app: FastifyInstance
  url: (path: string) => string
  /** Resolves once the host's handler has seen `n` sockets close (the plugin logs before it). */
  closed: (n: number) => Promise<void>
}

/**
 * A listening host with WebSocket routes: `/ws` answers `ping` with `pong`, closes itself with
 * 4001 on `close-me` and refuses `?deny=1` with 401; `/quiet-ws` is `config: { userlog: false }`.
 */
async function host (order: 'before' | 'after', options: UserlogOptions = {}): Promise<Host> {
  let closes = 0
  const waiting: Array<{ n: number, resolve: () => void }> = []
  const onClose = (): void => {
    closes++
    for (const w of waiting.filter((w) => w.n <= closes)) w.resolve()
  }
  const wsRoutes = async (scope: FastifyInstance): Promise<void> => {
    // The route's own hook, as an auth check would be: `?deny=1` is refused before any upgrade.
    const deny = (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
      if ((req.query as { deny?: string }).deny === '1') void reply.code(401).send()
      else done()
    }
    scope.get('/ws', { websocket: true, onRequest: deny }, (socket) => {
      socket.on('message', (data) => {
        const text = (data as Buffer).toString()
        if (text === 'ping') socket.send('pong')
        if (text === 'close-me') socket.close(4001, 'bye')
      })
      socket.on('close', onClose)
    })
    scope.get('/quiet-ws', { websocket: true, config: { userlog: false } }, (socket) => {
      socket.on('close', onClose)
    })
  }
  const { app } = await buildApp({ redis: redis.url, ...options }, (app) => {
    if (order === 'after') void app.register(websocket)
    void app.register(wsRoutes)
  }, order === 'before' ? async (app) => { await app.register(websocket) } : undefined)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return {
    app,
    url: (path) => `ws://127.0.0.1:${port}${path}`,
    closed: async (n) => {
      if (closes >= n) return
      await new Promise<void>((resolve) => { waiting.push({ n, resolve }) })
    }
  }
}

async function connect (url: string, user?: string): Promise<WebSocket> {
  const headers = { ...(user !== undefined ? asUser(user) : {}), 'user-agent': 'Test/ws' }
  const ws = new WebSocket(url, { headers })
  await once(ws, 'open')
  return ws
}

/** Reads `user`'s log until it holds `n` entries (the writer batches on the next turn). */
async function entriesOf (app: FastifyInstance, user: string, n: number): Promise<Stored[]> {
  for (let i = 0; i < 200; i++) {
    await app.userlog.flush()
    const entries = await logOf(user)
    if (entries.length >= n) return entries
    await sleep(25)
  }
  throw new Error(`${user}'s log did not reach ${n} entries`)
}

for (const order of ['before', 'after'] as const) {
  t.test(`@fastify/websocket registered ${order} the plugin: a known user's connection is logged`, async (t) => {
    const { app, url, closed } = await host(order)
    t.teardown(() => app.close())
    const ws = await connect(url('/ws?token=abc&x=1'), 'alice')
    const openedAt = performance.now()
    const pongs: string[] = []
    ws.on('message', (data) => { pongs.push((data as Buffer).toString()) })
    ws.send('ping')
    ws.send(SECRET)
    ws.send('ping')
    while (pongs.length < 2) await once(ws, 'message')
    const [opened] = await entriesOf(app, 'alice', 1)
    t.match(opened, {
      user: 'alice',
      kind: 'request',
      method: 'GET',
      path: '/ws?token=REDACTED&x=1',
      route: '/ws',
      status: 101,
      ip: '127.0.0.1',
      ua: 'Test/ws',
      reqId: String
    })
    t.type(opened?.ms, 'number')
    t.equal((await logOf('alice')).length, 1, 'only the 101 entry while the socket is open')

    await sleep(150)
    const heldMs = Math.floor(performance.now() - openedAt)
    ws.close(4000, 'done')
    await closed(1)
    const entries = await entriesOf(app, 'alice', 2)
    t.equal(entries.length, 2, 'exactly the 101 entry and the close')
    const close = entries[1]
    t.match(close, {
      user: 'alice',
      kind: 'ws_close',
      method: 'GET',
      path: '/ws?token=REDACTED&x=1',
      route: '/ws',
      reqId: opened?.reqId,
      code: 4000,
      received: 3,
      sent: 2
    })
    t.ok(Number(close?.durationMs) >= heldMs, `durationMs ${String(close?.durationMs)} >= held ${heldMs}`)
    t.notOk(close?.id === opened?.id, 'each entry has its own id')
    const stored = (await db.lrange(keys.log('alice'), 0, -1)).join('\n')
    t.notOk(stored.includes(SECRET), 'no message content is stored')
    t.notOk(stored.includes('pong'), 'nor what the host sent')
  })

  t.test(`@fastify/websocket registered ${order} the plugin: anonymous and userlog:false log nothing`, async (t) => {
    const { app, url, closed } = await host(order)
    t.teardown(() => app.close())
    const anonymous = await connect(url('/ws'))
    anonymous.send('ping')
    await once(anonymous, 'message')
    anonymous.close(4000)
    const quiet = await connect(url('/quiet-ws'), 'bob')
    quiet.close(4000)
    await closed(2)
    // A logged connection afterwards proves the writer ran past the two above.
    const marker = await connect(url('/ws'), 'carol')
    marker.close(4000)
    await closed(3)
    t.equal((await entriesOf(app, 'carol', 2)).length, 2)
    t.same(await logOf('bob'), [], 'a userlog:false route is not logged')
    t.same(await db.keys('userlog:{anonymous*'), [])
    t.equal(await db.zcard(keys.usersIndex), 1, 'only carol is indexed')
  })
}

t.test('a server-side close and an abrupt client termination are logged too', async (t) => {
  const { app, url, closed } = await host('before')
  t.teardown(() => app.close())
  const served = await connect(url('/ws'), 'dave')
  served.send('close-me')
  const [code] = await once(served, 'close') as [number]
  t.equal(code, 4001, 'the host closed it')
  await closed(1)
  const dropped = await connect(url('/ws'), 'erin')
  dropped.send('ping')
  await once(dropped, 'message')
  dropped.terminate()
  await closed(2)
  const [, byServer] = await entriesOf(app, 'dave', 2)
  t.match(byServer, { kind: 'ws_close', code: 4001, received: 1, sent: 0 })
  const [, byClient] = await entriesOf(app, 'erin', 2)
  t.match(byClient, { kind: 'ws_close', code: 1006, received: 1, sent: 1 })
})

t.test('transform sees both entries; a throwing getUser skips the connection', async (t) => {
  const seen: string[] = []
  const { app, url, closed } = await host('after', {
    getUser: (req) => {
      const user = req.headers['x-user']
      if (user === 'grace') throw new Error('no session store')
      return typeof user === 'string' ? user : undefined
    },
    transform: (entry) => {
      seen.push(String(entry.kind))
      return entry.kind === 'ws_close' ? { ...entry, tag: 'closed' } : entry
    }
  })
  t.teardown(() => app.close())
  const ws = await connect(url('/ws'), 'frank')
  ws.close(4000)
  await closed(1)
  const [opened, close] = await entriesOf(app, 'frank', 2)
  t.same(seen, ['request', 'ws_close'])
  t.equal(opened?.tag, undefined)
  t.equal(close?.tag, 'closed', 'what transform returns is stored')

  const failing = await connect(url('/ws'), 'grace')
  failing.close(4000)
  await closed(2)
  t.same(seen, ['request', 'ws_close'], 'a throwing getUser: not logged, and transform never sees it')
  t.same(await logOf('grace'), [])
})

t.test('an upgrade refused by a route hook is logged as that response, with no ws_close', async (t) => {
  const { app, url } = await host('after')
  t.teardown(() => app.close())
  const ws = new WebSocket(url('/ws?deny=1'), { headers: asUser('judy') })
  ws.on('error', () => {}) // the server drops the socket after its answer
  const [, res] = await once(ws, 'unexpected-response') as [unknown, { statusCode: number }]
  t.equal(res.statusCode, 401)
  ws.terminate()
  const marker = await connect(url('/ws'), 'judy')
  marker.close(4000)
  const entries = await entriesOf(app, 'judy', 3)
  t.match(entries, [
    { kind: 'request', status: 401, route: '/ws' },
    { kind: 'request', status: 101 },
    { kind: 'ws_close', code: 4000 }
  ])
  t.equal(entries.length, 3)
})

t.test('an ignored path is not logged', async (t) => {
  const { app, url, closed } = await host('before', { ignore: ['/userlog', '/ws'] })
  t.teardown(() => app.close())
  const ws = await connect(url('/ws?x=1'), 'heidi')
  ws.close(4000)
  await closed(1)
  await app.inject({ url: '/hello', headers: asUser('heidi') })
  const entries = await entriesOf(app, 'heidi', 1)
  t.same(entries.map((e) => e.path), ['/hello'], 'only the plain request')
})

t.test('a connection still open when the app closes is logged with 1001 before the writer stops', async (t) => {
  const { app, url } = await host('after')
  const ws = await connect(url('/ws'), 'ivan')
  ws.send('ping')
  await once(ws, 'message')
  await app.close()
  const entries = await logOf('ivan')
  t.match(entries, [{ kind: 'request', status: 101 }, { kind: 'ws_close', code: 1001, received: 1, sent: 1 }])
  t.equal(entries.length, 2, 'logged once, though the socket closed after')
})

t.test('only WebSocket routes get the hook', async (t) => {
  const { app } = await host('before')
  t.teardown(() => app.close())
  const routes = app.printRoutes({ includeHooks: true, commonPrefix: false })
  const hooksOf = (route: string): string => routes.split(route)[1]?.split('\n')[1] ?? ''
  t.match(hooksOf('/ws (GET)'), /userlogWebSocketUpgrade/)
  t.notMatch(hooksOf('/hello (GET)'), /userlogWebSocketUpgrade/, 'a plain route pays nothing')
  t.notMatch(hooksOf('/quiet-ws (GET)'), /userlogWebSocketUpgrade/, 'nor a userlog:false one')
  t.notMatch(hooksOf('/ws (HEAD)'), /userlogWebSocketUpgrade/)
})
