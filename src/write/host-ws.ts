// The host's own WebSocket routes (@fastify/websocket). An upgrade is hijacked, so it never
// reaches the onResponse hook: each connection of a known user is logged here instead, as a
// `request` entry with status 101 once the socket is open and a `ws_close` entry when it closes
// (its duration, close code and message counts, never contents). Only routes declared with
// `websocket: true` or a `wsHandler` get a hook (added as they are declared), so every other
// route pays nothing; `ws` and `@fastify/websocket` themselves are never loaded.
import type { IncomingMessage } from 'node:http'
import type {
  FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction, RouteOptions
} from 'fastify'
import type { WebSocket, WebSocketServer } from 'ws'
import { compileIgnore, nextId, requestEntry } from './entry.js'
import { hostCallbacks } from './host-callbacks.js'
import type { Settings } from '../options.js'
import type { Entry } from '../types.js'
import type { BatchWriter } from './writer.js'

const SWITCHING_PROTOCOLS = 101
/** The close code of a connection still open when the app closes: the server is going away. */
const GOING_AWAY = 1001

type RouteHook = (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/** One logged connection, open until `finish` runs (once: on its close event or at shutdown). */
interface Connection { finish: (code: number) => void }

export function logHostWebSockets (fastify: FastifyInstance, settings: Settings, writer: BatchWriter): void {
  const { redactQuery } = settings
  const log = fastify.log
  const ignored = compileIgnore(settings.ignore)
  const host = hostCallbacks(settings, ' on a WebSocket route', 'those connections are not logged')
  // Upgrades routed to a WebSocket route, waiting for their socket (the route hook runs first).
  const upgrading = new WeakMap<IncomingMessage, { req: FastifyRequest, reply: FastifyReply }>()
  const servers = new WeakSet<WebSocketServer>()
  const open = new Set<Connection>()

  function onConnection (socket: WebSocket, raw: IncomingMessage): void {
    const upgrade = upgrading.get(raw)
    if (upgrade === undefined) return
    upgrading.delete(raw)
    const { req, reply } = upgrade
    // The user is asked now, after every hook of the route (an auth hook may set it late).
    const user = host.user(req, log)
    if (user === undefined) return
    if (ignored(req.url)) return
    const opened = requestEntry(req, reply, user, redactQuery, req.routeOptions.url ?? null)
    opened.status = SWITCHING_PROTOCOLS
    // Kept before transform sees the entry, which may change it in place.
    const { method, path, route, reqId } = opened
    pushEntry(opened, req)
    watch(socket, (counts) => {
      pushEntry({ id: nextId(), t: Date.now(), user, kind: 'ws_close', method, path, route, reqId, ...counts }, req)
    })
  }

  function pushEntry (entry: Entry, req: FastifyRequest): void {
    const out = host.transform(entry, req, log)
    if (out !== null) writer.push(out)
  }

  type Counts = Pick<Entry, 'durationMs' | 'code' | 'received' | 'sent'>
  function watch (socket: WebSocket, closed: (counts: Counts) => void): void {
    const startedAt = performance.now()
    let received = 0
    let sent = 0
    socket.on('message', () => { received++ })
    // ws has no event for an outgoing message: count the sends made while the socket is open.
    const send = socket.send.bind(socket)
    socket.send = ((...args: Parameters<WebSocket['send']>) => {
      if (socket.readyState === socket.OPEN) sent++
      send(...args)
    }) as WebSocket['send']
    const connection: Connection = {
      finish (code) {
        if (!open.delete(connection)) return
        const durationMs = Math.round((performance.now() - startedAt) * 10) / 10
        closed({ durationMs, code, received, sent })
      }
    }
    open.add(connection)
    socket.once('close', (code: number) => { connection.finish(code) })
  }

  const routeHook: RouteHook = function userlogWebSocketUpgrade (this: FastifyInstance, req, reply, done) {
    // `req.ws` is set by @fastify/websocket's own onRequest hook, which runs before route hooks.
    if ((req as { ws?: unknown }).ws === true) {
      upgrading.set(req.raw, { req, reply })
      const wss = (this as { websocketServer?: WebSocketServer }).websocketServer
      if (wss !== undefined && !servers.has(wss)) {
        servers.add(wss)
        wss.on('connection', onConnection)
      }
    }
    done()
  }

  fastify.addHook('onRoute', (route: RouteOptions & { websocket?: unknown, wsHandler?: unknown }) => {
    if (route.websocket !== true && typeof route.wsHandler !== 'function') return
    if (route.method === 'HEAD') return // never upgraded: @fastify/websocket answers it 404
    if ((route.config as { userlog?: unknown } | undefined)?.userlog === false) return
    route.onRequest = [route.onRequest ?? [], routeHook].flat() // after the route's own hooks
  })
  // Entries made after onClose would never reach Redis: log what is still open before the writer closes.
  fastify.addHook('preClose', (done) => {
    for (const connection of open) connection.finish(GOING_AWAY)
    done()
  })
}
