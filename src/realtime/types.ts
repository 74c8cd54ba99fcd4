// The realtime server's public types, in one place: its options, `fastify.userlogRealtime`, and
// what it adds to Fastify's types. Imported from `fastify-userlog/realtime`.
import type { ConnectionOptions } from 'node:tls'
import type { Cluster, Redis } from 'ioredis'
import type { Hub, HubStats } from './hub.js'
import type { RefusedReason } from './metrics.js'
import type { RealtimeSettings } from './options.js'

export interface RealtimeOptions {
  /**
   * A redis:// or rediss:// URL, or two or more comma-separated URLs of Redis Cluster seed nodes
   * (`redis://h1:7000,redis://h2:7000`): the plugin creates and closes its clients. Or an ioredis
   * `Redis` instance (used for commands and never closed; its subscriber is a `duplicate()` the
   * plugin closes), or an ioredis `Cluster` (used for commands and never closed; the plugin opens and
   * closes one SSUBSCRIBE connection per master). @default process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
   */
  redis?: string | Redis | Cluster
  /**
   * TLS settings for the connections created from a `rediss://` URL or seed list, e.g. a private
   * CA: `{ ca: readFileSync('ca.pem') }` (a caller's instance brings its own). @default Node's CAs
   */
  redisTls?: ConnectionOptions
  /** Prefix of every Redis key and channel; must equal the request-logging plugin's `prefix`. @default 'userlog' */
  prefix?: string
  /** Path of the WebSocket route. @default '/live' */
  path?: string
  /**
   * Browser origins allowed to open the WebSocket, e.g. `['https://admin.example.com']`. A client that
   * sends no `Origin` header (not a browser: `userlog tail`, scripts) is always allowed (it still needs a
   * token). An empty list (the default) allows only same-host browser pages: the Origin's host:port must
   * equal the request's Host header. @default []
   */
  origins?: string[]
  /** Bytes a viewer's socket may have queued; beyond it live entries are skipped and counted. @default 1048576 */
  maxBufferedBytes?: number
  /** A viewer whose queue has stayed over `maxBufferedBytes` this long is closed with 1013. @default 30000 */
  stuckMs?: number
  /** Interval of WebSocket pings; a viewer that has not answered the previous one is terminated. @default 30000 */
  pingIntervalMs?: number
  /** Time a new connection has to send its token; then it is closed with 4408. @default 5000 */
  authTimeoutMs?: number
  /** Interval of the subscriber's PING; an unanswered PING marks Redis down. @default 5000 */
  redisPingMs?: number
  /** Timeout of GETDEL and LRANGE on the command connection. @default 2000 */
  commandTimeoutMs?: number
  /** Path of the health check, or false for none (an app that has its own). @default '/healthz' */
  healthPath?: string | false
  /** Path of the Prometheus metrics, or false for none. @default '/metrics' */
  metricsPath?: string | false
}

export interface RealtimeStats extends HubStats {
  connections: number
  refused: Record<RefusedReason, number>
}

/** One streaming WebSocket viewer, as `fastify.userlogRealtime.viewers()` describes it. */
export interface ViewerInfo {
  /** The user watched, '*' for all users. */
  user: string
  /** Bytes queued on its socket now. */
  queuedBytes: number
  /** The most bytes ever queued on its socket right after a send. */
  peakQueuedBytes: number
  /** Entries skipped and not yet told to it. */
  skipped: number
  /** Its queue is full and it has not drained since. */
  stuck: boolean
}

/** `fastify.userlogRealtime`: the hub (for in-process watchers) and the numbers behind /metrics. */
export interface RealtimeDecorator {
  readonly hub: Hub
  readonly settings: Readonly<RealtimeSettings>
  stats: () => RealtimeStats
  viewers: () => ViewerInfo[]
}

declare module 'fastify' {
  interface FastifyInstance { userlogRealtime: RealtimeDecorator }
}
