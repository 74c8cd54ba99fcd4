// The realtime server as a Fastify plugin: `GET {path}` (WebSocket), `GET /healthz`, `GET /metrics`.
// `userlog realtime` runs it on its own Fastify; an app can register it in-process instead.
//
// A connection must pass three checks, in this order:
// 1. Origin, in an onRequest hook, so a refused browser page gets HTTP 403 before any upgrade;
// 2. its first message, `{"token":"…"}`, within `authTimeoutMs` (else 4408); anything else → 4401;
// 3. the token, taken from Redis with GETDEL (single use): unknown, expired or reused → 4401.
// Then it is a viewer of the hub: hello, backlog, entries. A first message
// `{"token":"…","stream":"presence"}` with an all-users grant asks for the presence stream instead
// (presence-stream.ts): hello, then presence messages only; with a one-user grant it is refused (4401).
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { WebSocket, type RawData } from 'ws'
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { validateRealtimeOptions } from './options.js'
import type { RealtimeOptions, RealtimeStats, ViewerInfo } from './types.js'
import { Hub } from './hub.js'
import { CLOSE, WsViewer, closeSocket } from './ws-viewer.js'
import { RealtimeMetrics, type RefusedReason } from './metrics.js'
import { originRefusal } from '../shared/origin.js'
import { PresenceStream } from './presence-stream.js'
import { AlreadyRegisteredError } from '../shared/errors.js'

/** The first message may not be larger than this (it only carries a token). */
const MAX_FIRST_MESSAGE = 4096
/** A token: printable ASCII without spaces, at most 256 characters (the admin API mints 24). */
const TOKEN = /^[\x21-\x7e]{1,256}$/
/** How long shutdown waits for viewers to finish the close handshake before cutting them off. */
const SHUTDOWN_GRACE_MS = 1000
/** How long registering waits for the Redis connections before going on without them. */
const STARTUP_WAIT_MS = 2000

/** The token of a first message `{"token":"…"}`, or null for anything else. Never throws. */
export function readToken (data: RawData, isBinary: boolean): string | null {
  return readFirstMessage(data, isBinary)?.token ?? null
}

export interface FirstMessage { token: string, stream: 'entries' | 'presence' }

/** A first message's token and stream (entries unless `"stream":"presence"`), or null. Never throws. */
export function readFirstMessage (data: RawData, isBinary: boolean): FirstMessage | null {
  if (isBinary) return null
  const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer)
  if (buf.length > MAX_FIRST_MESSAGE) return null
  let msg: unknown
  try { msg = JSON.parse(buf.toString('utf8')) } catch { return null }
  if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return null
  const { token, stream } = msg as { token?: unknown, stream?: unknown }
  if (typeof token !== 'string' || !TOKEN.test(token)) return null
  return { token, stream: stream === 'presence' ? 'presence' : 'entries' }
}

const realtimePlugin: FastifyPluginAsync<RealtimeOptions> = async (fastify, opts) => {
  const settings = validateRealtimeOptions(opts)
  if (fastify.hasDecorator('userlogRealtime')) throw new AlreadyRegisteredError('userlog realtime')
  const log = fastify.log
  const hub = new Hub({
    redis: settings.redis,
    tls: settings.redisTls,
    prefix: settings.prefix,
    log,
    redisPingMs: settings.redisPingMs,
    commandTimeoutMs: settings.commandTimeoutMs
  })
  const metrics = new RealtimeMetrics()
  const presenceStream = new PresenceStream(hub)
  const viewers = new Set<WsViewer>()
  const sockets = new Set<WebSocket>()

  const stats = (): RealtimeStats => ({
    ...hub.stats(), connections: metrics.connections, refused: { ...metrics.refused }
  })
  const describeViewers = (): ViewerInfo[] => [...viewers].map((v) => ({
    user: v.user ?? '*',
    queuedBytes: v.ws.bufferedAmount,
    peakQueuedBytes: v.peakBuffered,
    skipped: v.skipped,
    stuck: v.stuckSince !== null
  }))
  fastify.decorate('userlogRealtime', { hub, settings, stats, viewers: describeViewers })
  // On the plugin's own level, so the connections are closed even if registering the routes fails.
  fastify.addHook('onClose', async () => { await hub.close() })
  // Start-up waits a little for Redis, so the first viewers do not race the connections; a Redis
  // that is down does not stop the server from starting (viewers are told it is down).
  if (!await hub.ready(STARTUP_WAIT_MS)) {
    const reason = hub.lastErrorMessage
    const why = reason !== null ? ` (${reason})` : ''
    log.warn({ userlog: { reason } }, `userlog realtime: Redis is not reachable yet${why}; starting anyway`)
  }

  const pingTimer = setInterval(() => {
    for (const v of viewers) {
      if (!v.heartbeat()) {
        metrics.closed.unresponsive++
        log.info({ userlog: { user: v.user ?? '*' } }, 'userlog realtime: terminated a viewer that missed a ping')
      }
    }
  }, settings.pingIntervalMs)
  const stuckTimer = setInterval(() => {
    const now = Date.now()
    for (const v of viewers) {
      if (v.stuckSince !== null && v.check(now)) {
        metrics.closed.slow++
        log.warn({ userlog: { user: v.user ?? '*', stuckMs: settings.stuckMs } },
          'userlog realtime: closed a viewer that stopped reading (1013)')
      }
    }
  }, Math.max(10, Math.min(1000, Math.floor(settings.stuckMs / 4))))
  pingTimer.unref()
  stuckTimer.unref()

  function onConnection (socket: WebSocket, req: FastifyRequest): void {
    metrics.connections++
    sockets.add(socket)
    let state: 'waiting' | 'checking' | 'streaming' | 'refused' = 'waiting'
    let viewer: WsViewer | null = null

    const refuse = (reason: RefusedReason, code: number, text: string): void => {
      state = 'refused'
      metrics.refused[reason]++
      req.log.info({ userlog: { reason, code } }, 'userlog realtime: connection refused')
      closeSocket(socket, code, text)
    }
    const timer = setTimeout(() => {
      if (state === 'waiting') refuse('timeout', CLOSE.authTimeout, 'no token')
    }, settings.authTimeoutMs)

    // Attached synchronously, before anything is awaited: a message sent right after the upgrade is not lost.
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (state !== 'waiting') return // only the first message means something
      state = 'checking'
      clearTimeout(timer)
      const first = readFirstMessage(data, isBinary)
      if (first === null) {
        refuse('invalid', CLOSE.unauthorized, 'invalid first message')
        return
      }
      hub.takeGrant(first.token).then((grant) => {
        if (socket.readyState !== WebSocket.OPEN) return
        if (grant === null) {
          refuse('token', CLOSE.unauthorized, 'invalid, expired or used token')
          return
        }
        // Presence tells who is on which page: the same as the all-users stream, so the same grant.
        if (first.stream === 'presence' && grant.user !== '*') {
          refuse('token', CLOSE.unauthorized, 'the presence stream needs an all-users grant')
          return
        }
        state = 'streaming'
        viewer = new WsViewer(socket, grant.user === '*' ? null : grant.user, settings, hub.counters)
        viewers.add(viewer)
        req.log.info({ userlog: { user: grant.user, admin: grant.admin, stream: first.stream } },
          'userlog realtime: viewer joined')
        viewer.hello(grant.user)
        if (first.stream === 'presence') presenceStream.add(viewer)
        else hub.join(viewer)
      }, (err: unknown) => {
        if (socket.readyState !== WebSocket.OPEN) return
        req.log.warn({ err }, 'userlog realtime: could not check a token (Redis unavailable)')
        refuse('redis', CLOSE.tryAgainLater, 'Redis unavailable, try again')
      })
    })
    socket.on('close', () => {
      clearTimeout(timer)
      metrics.connections--
      sockets.delete(socket)
      if (viewer !== null) {
        viewers.delete(viewer)
        presenceStream.remove(viewer)
        hub.leave(viewer)
      }
    })
  }

  function refuseOrigin (req: FastifyRequest, reply: FastifyReply, done: () => void): void {
    const origin = req.headers.origin
    if (origin === undefined) {
      done()
      return
    }
    const reason = originRefusal(origin, req.headers.host, settings.origins)
    if (reason === null) {
      done()
      return
    }
    metrics.refused.origin++
    req.log.warn({ userlog: { origin: origin.slice(0, 200), reason } }, 'userlog realtime: refused a WebSocket upgrade')
    void reply.code(403).send({ error: 'Forbidden', message: 'origin not allowed' })
  }

  // Routes live in a child context: nothing here changes the host's own routes or hooks.
  await fastify.register(async (app: FastifyInstance) => {
    let shuttingDown = false
    app.addHook('preClose', async () => {
      shuttingDown = true
      clearInterval(pingTimer)
      clearInterval(stuckTimer)
      for (const s of sockets) closeSocket(s, CLOSE.goingAway, 'server shutting down')
      const deadline = Date.now() + SHUTDOWN_GRACE_MS
      while (sockets.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      for (const s of sockets) s.terminate()
    })

    if (!app.hasDecorator('websocketServer')) {
      await app.register(websocket, { options: { maxPayload: 64 * 1024 } })
    }

    app.get(settings.path, { websocket: true, onRequest: refuseOrigin }, (socket, req) => {
      if (shuttingDown) {
        closeSocket(socket, CLOSE.goingAway, 'server shutting down')
        return
      }
      onConnection(socket, req)
    })

    if (settings.healthPath !== null) {
      app.get(settings.healthPath, async () => {
        const up = hub.redisUp
        return { status: up ? 'ok' : 'degraded', redis: up ? 'up' : 'down', viewers: viewers.size }
      })
    }
    if (settings.metricsPath !== null) {
      app.get(settings.metricsPath, async (_req, reply) => {
        void reply.type('text/plain; version=0.0.4; charset=utf-8')
        return metrics.render(hub.stats())
      })
    }
  })
}

/**
 * The realtime server as a plugin. Routes: `GET {path}` (WebSocket), `GET /healthz`, `GET /metrics`.
 * Register it once per app; it registers @fastify/websocket unless the app already has.
 */
export const userlogRealtime = fp(realtimePlugin, { fastify: '5.x', name: 'fastify-userlog-realtime' })
