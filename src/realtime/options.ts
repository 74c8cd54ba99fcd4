// Options of the realtime server: the defaults, and the validation that runs at
// register time. Every check throws an error that names the option, so a mistyped `--origin` or
// limit stops the server at start-up (FST_USERLOG_OPTION) instead of refusing every viewer later.
import type { ConnectionOptions } from 'node:tls'
import type { Cluster, Redis } from 'ioredis'
import { OptionReader, ROUTE_PATH } from '../shared/checks.js'
import { normalizeOrigin } from '../shared/origin.js'
import { isRedisInstance, keyPrefixOf, redisUrlProblem } from '../shared/redis.js'

/** Options after validation, every default filled in. */
export interface RealtimeSettings {
  redis: string | Redis | Cluster
  redisTls: ConnectionOptions | undefined
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

const KNOWN = ['redis', 'redisTls', 'prefix', 'path', 'origins', 'maxBufferedBytes', 'stuckMs', 'pingIntervalMs',
  'authTimeoutMs', 'redisPingMs', 'commandTimeoutMs', 'healthPath', 'metricsPath']

function pathOption (r: OptionReader, name: string, def: string): string | null {
  const v = r.opts[name] ?? def
  if (v === false) return null
  if (typeof v !== 'string' || !ROUTE_PATH.test(v)) {
    throw r.error(name, 'a path like "/x" (starts with "/", no trailing "/") or false', v)
  }
  return v
}

function redisOption (r: OptionReader): string | Redis | Cluster {
  const expected = 'a redis:// or rediss:// URL, comma-separated Redis Cluster seed URLs, or an ioredis Redis or Cluster instance'
  const v = r.opts.redis ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  if (typeof v === 'string') {
    const problem = redisUrlProblem(v)
    if (problem !== null) throw r.error('redis', `${expected} (${problem})`, v)
    return v
  }
  if (!isRedisInstance(v)) throw r.error('redis', expected, v)
  const keyPrefix = keyPrefixOf(v)
  if (keyPrefix !== undefined) {
    throw r.error('redis', 'a client without keyPrefix (use the "prefix" option instead)', keyPrefix)
  }
  return v
}

function originsOption (r: OptionReader): Set<string> {
  const origins = new Set<string>()
  const v = r.opts.origins
  if (v === undefined) return origins
  const expected = 'an array of origins such as "https://admin.example.com" (scheme, host and optional port, no path)'
  if (!Array.isArray(v)) throw r.error('origins', expected, v)
  for (const o of v as unknown[]) {
    const origin = typeof o === 'string' ? normalizeOrigin(o) : null
    if (origin === null) throw r.error('origins', expected, o)
    origins.add(origin)
  }
  return origins
}

function tlsOption (r: OptionReader): ConnectionOptions | undefined {
  const v = r.opts.redisTls
  if (v === undefined) return undefined
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw r.error('redisTls', 'Node TLS options such as { ca }', v)
  }
  return v
}

export function validateRealtimeOptions (input: unknown): RealtimeSettings {
  const r = new OptionReader('userlog realtime', input, KNOWN)
  const path = pathOption(r, 'path', '/live')
  if (path === null) throw r.error('path', 'a path like "/live" (starts with "/", no trailing "/")', false)
  const healthPath = pathOption(r, 'healthPath', '/healthz')
  const metricsPath = pathOption(r, 'metricsPath', '/metrics')
  if (path === healthPath || path === metricsPath || (healthPath !== null && healthPath === metricsPath)) {
    throw r.error('path', 'different from healthPath and metricsPath', path)
  }
  return {
    redis: redisOption(r),
    redisTls: tlsOption(r),
    prefix: r.prefix(),
    path,
    origins: originsOption(r),
    maxBufferedBytes: r.integer('maxBufferedBytes', 1024 * 1024, 1024, 1024 * 1024 * 1024),
    stuckMs: r.integer('stuckMs', 30_000, 10, 3_600_000),
    pingIntervalMs: r.integer('pingIntervalMs', 30_000, 10, 3_600_000),
    authTimeoutMs: r.integer('authTimeoutMs', 5_000, 10, 600_000),
    redisPingMs: r.integer('redisPingMs', 5_000, 10, 600_000),
    commandTimeoutMs: r.integer('commandTimeoutMs', 2_000, 10, 600_000),
    healthPath,
    metricsPath
  }
}
