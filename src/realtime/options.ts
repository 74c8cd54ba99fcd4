// Options of the realtime server: the public type, the defaults, and the validation that runs at
// register time. Every check throws an error that names the option, so a mistyped `--origin` or
// limit stops the server at start-up instead of refusing every viewer later.
import type { Cluster, Redis } from 'ioredis'
import { redisUrlProblem } from './redis-url.js'
import { describeValue, integerOption } from '../option-checks.js'

export interface RealtimeOptions {
  /**
   * A redis:// or rediss:// URL, or two or more comma-separated URLs of Redis Cluster seed nodes
   * (`redis://h1:7000,redis://h2:7000`): the plugin creates and closes its clients. Or an ioredis
   * `Redis` instance (used for commands and never closed; its subscriber is a `duplicate()` the
   * plugin closes), or an ioredis `Cluster` (used for commands and never closed; the plugin opens and
   * closes one SSUBSCRIBE connection per master). @default process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
   */
  redis?: string | Redis | Cluster
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

/** Options after validation, every default filled in. */
export interface RealtimeSettings {
  redis: string | Redis | Cluster
  prefix: string
  path: string
  origins: ReadonlySet<string>
  maxBufferedBytes: number
  stuckMs: number
  pingIntervalMs: number
  authTimeoutMs: number
  redisPingMs: number
  commandTimeoutMs: number
  healthPath: string | null
  metricsPath: string | null
}

const KNOWN = ['redis', 'prefix', 'path', 'origins', 'maxBufferedBytes', 'stuckMs', 'pingIntervalMs',
  'authTimeoutMs', 'redisPingMs', 'commandTimeoutMs', 'healthPath', 'metricsPath']

const PATH = /^(\/[A-Za-z0-9._~-]+)+$/

function pathOption (opts: Record<string, unknown>, name: string, def: string): string | null {
  const v = opts[name] ?? def
  if (v === false) return null
  if (typeof v !== 'string' || !PATH.test(v)) {
    throw new RealtimeOptionError(name, 'a path like "/x" (starts with "/", no trailing "/") or false', v)
  }
  return v
}

export class RealtimeOptionError extends Error {
  constructor (option: string, expected: string, got: unknown) {
    super(`userlog realtime: option "${option}" must be ${expected} (got ${describeValue(got)})`)
    this.name = 'RealtimeOptionError'
  }
}


function integer (opts: Record<string, unknown>, name: string, def: number, min: number, max: number): number {
  return integerOption(opts, name, def, min, max, (n, expected, got) => new RealtimeOptionError(n, expected, got))
}

/** `https://host[:port]` exactly as a browser sends it in `Origin`, or null. */
export function normalizeOrigin (s: string): string | null {
  let u: URL
  try { u = new URL(s) } catch { return null }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '' || (u.pathname !== '/' && u.pathname !== '')) return null
  // new URL() lower-cases the host and drops a default port, as browsers do in Origin.
  return u.origin
}

function isRedisInstance (v: object): v is Redis | Cluster {
  return typeof (v as { duplicate?: unknown }).duplicate === 'function' &&
    typeof (v as { getdel?: unknown }).getdel === 'function'
}

function redisOption (v: unknown): string | Redis | Cluster {
  const expected = 'a redis:// or rediss:// URL, comma-separated Redis Cluster seed URLs, or an ioredis Redis or Cluster instance'
  if (v === undefined) v = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  if (typeof v === 'string') {
    const problem = redisUrlProblem(v)
    if (problem !== null) throw new RealtimeOptionError('redis', `${expected} (${problem})`, v)
    return v
  }
  if (typeof v !== 'object' || v === null || !isRedisInstance(v)) throw new RealtimeOptionError('redis', expected, v)
  const isCluster = (v as { isCluster?: boolean }).isCluster === true
  const keyPrefix = isCluster
    ? ((v as Cluster).options.keyPrefix ?? (v as Cluster).options.redisOptions?.keyPrefix)
    : ((v as Redis).options as { keyPrefix?: string }).keyPrefix
  if (keyPrefix !== undefined && keyPrefix !== '') {
    throw new RealtimeOptionError('redis', 'a client without keyPrefix (use the "prefix" option instead)', keyPrefix)
  }
  return v
}

export function validateRealtimeOptions (input: unknown): RealtimeSettings {
  if (input === undefined || input === null) input = {}
  if (typeof input !== 'object' || Array.isArray(input)) throw new RealtimeOptionError('options', 'an object', input)
  const opts = input as Record<string, unknown>
  for (const name of Object.keys(opts)) {
    if (!KNOWN.includes(name)) throw new Error(`userlog realtime: unknown option "${name}" (known options: ${KNOWN.join(', ')})`)
  }

  const prefix = opts.prefix ?? 'userlog'
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) {
    throw new RealtimeOptionError('prefix', 'a string of 1 to 64 characters from [A-Za-z0-9_.:-]', prefix)
  }

  const path = opts.path ?? '/live'
  if (typeof path !== 'string' || !PATH.test(path)) {
    throw new RealtimeOptionError('path', 'a path like "/live" (starts with "/", no trailing "/")', path)
  }
  const healthPath = pathOption(opts, 'healthPath', '/healthz')
  const metricsPath = pathOption(opts, 'metricsPath', '/metrics')
  if (path === healthPath || path === metricsPath || (healthPath !== null && healthPath === metricsPath)) {
    throw new RealtimeOptionError('path', 'different from healthPath and metricsPath', path)
  }

  const origins = new Set<string>()
  if (opts.origins !== undefined) {
    const expected = 'an array of origins such as "https://admin.example.com" (scheme, host and optional port, no path)'
    if (!Array.isArray(opts.origins)) throw new RealtimeOptionError('origins', expected, opts.origins)
    for (const o of opts.origins as unknown[]) {
      const origin = typeof o === 'string' ? normalizeOrigin(o) : null
      if (origin === null) throw new RealtimeOptionError('origins', expected, o)
      origins.add(origin)
    }
  }

  return {
    redis: redisOption(opts.redis),
    prefix,
    path,
    origins,
    maxBufferedBytes: integer(opts, 'maxBufferedBytes', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    stuckMs: integer(opts, 'stuckMs', 30_000, 10, 3_600_000),
    pingIntervalMs: integer(opts, 'pingIntervalMs', 30_000, 10, 3_600_000),
    authTimeoutMs: integer(opts, 'authTimeoutMs', 5_000, 10, 600_000),
    redisPingMs: integer(opts, 'redisPingMs', 5_000, 10, 600_000),
    commandTimeoutMs: integer(opts, 'commandTimeoutMs', 2_000, 10, 600_000),
    healthPath,
    metricsPath
  }
}
