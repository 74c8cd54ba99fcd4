// The public types of the plugin, in one place: its options, `fastify.userlog`, the entries it
// stores, and what it adds to Fastify's own types (the decorator and the `userlog` route config).
// The realtime server's types are those of its own entry point, `fastify-userlog/realtime`.
import type { FastifyRequest } from 'fastify'
import type { Cluster, Redis, RedisOptions } from 'ioredis'

/** An ioredis client: a single node or a Cluster. */
export type RedisLike = Redis | Cluster

export type EntryKind = 'request' | 'pageview' | 'heartbeat' | 'interaction' | 'session_end' | 'ws_close' | 'custom' |
  'visibility' | 'error' | 'request_failed'

/** One log line. Unknown fields (added by `transform` or `record`) are kept as they are. */
export interface Entry {
  id: string
  t: number
  user: string
  /** One of {@link EntryKind}, or a host's own kind given to `record`. */
  kind: EntryKind | (string & {})
  method?: string
  path?: string
  route?: string | null
  status?: number
  ms?: number
  ip?: string
  ua?: string
  reqId?: string
  src?: 'client'
  /** `ws_close`: how long the host's WebSocket was open (ms, from the 101 entry to its close). */
  durationMs?: number
  /** `ws_close`: the close code (1006: the connection dropped; 1001: still open when the app closed). */
  code?: number
  /** `ws_close`: messages the host's socket received (a count, never the contents). */
  received?: number
  /** `ws_close`: messages the host's socket sent (a count, never the contents). */
  sent?: number
  /** visibility: the tab's new state. */
  state?: 'hidden' | 'visible'
  /** session_end: ms the page view was visible and focused, and ms since it began. */
  activeMs?: number
  pageMs?: number
  /** error: what the page threw or rejected with (message and stack redacted like paths). */
  message?: string
  source?: string
  line?: number
  column?: number
  stack?: string
  errorType?: 'error' | 'unhandledrejection'
  /** error: further occurrences not sent one by one. */
  repeat?: number
  /** request_failed: the request's URL (redacted) and, when the response named it, its request id. */
  url?: string
  requestId?: string
  [field: string]: unknown
}

export interface UserlogOptions {
  /**
   * ioredis `Redis`/`Cluster` instance (not closed by the plugin), or a URL / ioredis options
   * (owned and closed). A string of two or more comma-separated URLs is a Redis Cluster's seed
   * nodes (`redis://h1:7000,redis://h2:7000`). @default process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' */
  redis?: string | RedisOptions | RedisLike
  /** Prefix of every Redis key and channel. @default 'userlog' */
  prefix?: string
  /** Where the admin page, API, `/events` and `tracker.js` are mounted. @default '/userlog' */
  routePrefix?: string
  /** Who made the request; `undefined` (or null, or '') = anonymous, not logged. @default req.user?.username */
  getUser?: (req: FastifyRequest) => string | null | undefined
  /** Who may read logs; may be async; a throw or rejection denies. @default deny everyone (with one warning) */
  isAdmin?: (req: FastifyRequest) => boolean | Promise<boolean>
  /** Entries kept per user (exactly this many). @default 100 */
  maxEntries?: number
  /**
   * Seconds a user's log lives after their last entry (up to a tenth longer, at most 60 s: its
   * expiry is refreshed that often rather than on every batch). @default 86400
   */
  ttl?: number
  /**
   * Paths not logged: a string matches that path or a sub-path at a `/` boundary; a RegExp is
   * tested on the path. @default [routePrefix, '/favicon.ico']
   */
  ignore?: Array<string | RegExp>
  /** Query parameters whose values are replaced by `REDACTED` (case-insensitive). */
  redactQuery?: string[]
  /** Last say on an entry before it is stored: change it, or return null to skip it. */
  transform?: (entry: Entry, req: FastifyRequest) => Entry | null | undefined
  /** Log client events of visitors without a user under `anon:<sid>`. @default false */
  trackAnonymous?: boolean
  /** Where the admin page connects for live logs. @default `ws://<req.hostname>:8080/live` (`wss:` on https pages) */
  realtimeUrl?: string
  /** Origins allowed to POST `/events`. @default same origin (Origin host:port equals Host) */
  allowedOrigins?: string[]
  /** IANA time zone in which report days start and end. @default 'UTC' */
  timeZone?: string
  /**
   * Entries held in process while Redis is slow or down; beyond it new entries are dropped and
   * counted. @default 10000
   */
  maxBuffer?: number
  /** HMAC key for anonymized exports (required to offer them). */
  anonymizeSecret?: string
  /**
   * Set `x-userlog-request-id` (the logged entry's `reqId`) on the responses of logged requests,
   * readable cross-origin by `allowedOrigins`. @default false
   */
  exposeRequestId?: boolean
  /**
   * Who the user is, for the admin page's user card: called once per browser session (on its
   * first post to /events), synchronously. At most 8 fields, keys of at most 32 characters, values
   * strings of at most 100 (numbers and booleans are converted); the rest is ignored with one
   * warning. A throw is logged once and the session gets no fields.
   */
  describeUser?: (req: FastifyRequest) => Record<string, string | number | boolean> | null | undefined
}

export interface WriterStats {
  /** Entries held in process, not yet confirmed written (including the batch in flight or being retried). */
  buffered: number
  /** Entries confirmed written to Redis. */
  written: number
  /** Entries dropped because the buffer was full. */
  dropped: number
  /** Batches written (on a cluster: all of a batch's per-slot calls succeeded). */
  batches: number
  /** Batch attempts that failed or timed out (each is retried). */
  failedBatches: number
  /** 'up' while writes succeed, 'down' during an outage. */
  redis: 'up' | 'down'
}

export interface UserlogDecorator {
  /** Adds a custom server-side entry to a user's log (kind defaults to 'custom'). */
  record: (user: string, fields?: Record<string, unknown>) => boolean
  /** Buffer and write counters, and whether Redis is reachable. */
  stats: () => WriterStats
  /** Writes what is buffered now. */
  flush: () => Promise<void>
}

declare module 'fastify' {
  interface FastifyInstance { userlog: UserlogDecorator }
  interface FastifyContextConfig {
    /** `false`: requests to this route are not logged. */
    userlog?: false
  }
}
