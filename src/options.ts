// The plugin's options: the defaults, and the validation that runs at register time. Every check
// throws an error that names the option and says what was expected (FST_USERLOG_OPTION), so a typo
// in a host app's configuration fails its start-up instead of silently logging nothing.
import type { FastifyRequest } from 'fastify'
import type { RedisOptions } from 'ioredis'
import type { RedisLike, UserlogOptions } from './types.js'
import { OptionReader } from './shared/checks.js'
import { normalizeOrigin } from './shared/origin.js'
import { keyPrefixOf, redisUrlProblem } from './shared/redis.js'

export const DEFAULT_REDACT_QUERY = ['password', 'token', 'access_token', 'id_token', 'api_key', 'apikey', 'secret',
  'code', 'session', 'auth']

/** Options after validation, with every default filled in. */
export interface Settings {
  redis: string | RedisOptions | RedisLike
  prefix: string
  routePrefix: string
  getUser: (req: FastifyRequest) => string | null | undefined
  isAdmin: ((req: FastifyRequest) => boolean | Promise<boolean>) | null
  maxEntries: number
  ttl: number
  ignore: Array<string | RegExp>
  redactQuery: ReadonlySet<string>
  transform: UserlogOptions['transform'] | null
  trackAnonymous: boolean
  realtimeUrl: string | null
  /** Normalised origins allowed to post /events besides the page's own. */
  allowedOrigins: ReadonlySet<string>
  timeZone: string
  maxBuffer: number
  anonymizeSecret: string | null
  exposeRequestId: boolean
  describeUser: UserlogOptions['describeUser'] | null
}

const KNOWN = ['redis', 'prefix', 'routePrefix', 'getUser', 'isAdmin', 'maxEntries', 'ttl', 'ignore',
  'redactQuery', 'transform', 'trackAnonymous', 'realtimeUrl', 'allowedOrigins', 'timeZone', 'maxBuffer',
  'anonymizeSecret', 'exposeRequestId', 'describeUser']

const REDIS_EXPECTED = 'a redis:// or rediss:// URL, comma-separated cluster seed URLs, ioredis options or an ioredis instance'

function redisOption (r: OptionReader): Settings['redis'] {
  const v = r.opts.redis
  if (v === undefined) return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  if (typeof v === 'string') {
    const problem = redisUrlProblem(v)
    if (problem !== null) throw r.error('redis', `${REDIS_EXPECTED} (${problem})`, v)
    return v
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw r.error('redis', REDIS_EXPECTED, v)
  const keyPrefix = keyPrefixOf(v)
  if (keyPrefix !== undefined) {
    throw r.error('redis', 'a client without keyPrefix (use the "prefix" option instead)', keyPrefix)
  }
  return v
}

function routePrefixOption (r: OptionReader): string {
  const v = r.opts.routePrefix
  if (v === undefined) return '/userlog'
  if (typeof v !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(v) || v.endsWith('/') || v.includes('//')) {
    throw r.error('routePrefix', 'a path like "/userlog" (starts with "/", no trailing "/")', v)
  }
  return v
}

function stringList (r: OptionReader, name: string, check: (s: string) => boolean, expected: string): string[] {
  const v = r.opts[name]
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && check(s))) throw r.error(name, expected, v)
  return v as string[]
}

function timeZoneOption (r: OptionReader): string {
  const v = r.opts.timeZone
  if (v === undefined) return 'UTC'
  const expected = 'an IANA time zone name such as "Europe/Paris"'
  if (typeof v !== 'string') throw r.error('timeZone', expected, v)
  try {
    // The canonical name, so "utc" and "UTC" share report keys.
    return new Intl.DateTimeFormat('en-US', { timeZone: v }).resolvedOptions().timeZone
  } catch {
    throw r.error('timeZone', expected, v)
  }
}

function ignoreOption (r: OptionReader, routePrefix: string): Array<string | RegExp> {
  const v = r.opts.ignore
  if (v === undefined) return [routePrefix, '/favicon.ico']
  if (!Array.isArray(v) || !v.every((p) => (typeof p === 'string' && p.startsWith('/')) || p instanceof RegExp)) {
    throw r.error('ignore', 'an array of paths starting with "/" and RegExps', v)
  }
  return v as Array<string | RegExp>
}

function realtimeUrlOption (r: OptionReader): string | null {
  const v = r.opts.realtimeUrl
  if (v === undefined) return null
  if (typeof v !== 'string' || !URL.canParse(v) || !/^wss?:$/.test(new URL(v).protocol)) {
    throw r.error('realtimeUrl', 'a ws:// or wss:// URL', v)
  }
  return v
}

function anonymizeSecretOption (r: OptionReader): string | null {
  const v = r.opts.anonymizeSecret
  if (v === undefined) return null
  if (typeof v !== 'string' || v.length < 16) throw r.error('anonymizeSecret', 'a string of at least 16 characters', v)
  return v
}

function booleanOption (r: OptionReader, name: string, def: boolean): boolean {
  const v = r.opts[name] ?? def
  if (typeof v !== 'boolean') throw r.error(name, 'a boolean', v)
  return v
}

function defaultGetUser (req: FastifyRequest): string | undefined {
  const user = (req as FastifyRequest & { user?: { username?: unknown } }).user
  const name = user?.username
  return typeof name === 'string' ? name : undefined
}

export function validateOptions (input: unknown): Settings {
  const r = new OptionReader('fastify-userlog', input, KNOWN)
  const routePrefix = routePrefixOption(r)
  const redactQuery = r.opts.redactQuery === undefined
    ? DEFAULT_REDACT_QUERY
    : stringList(r, 'redactQuery', (s) => s.length > 0, 'an array of non-empty parameter names')
  const allowedOrigins = r.opts.allowedOrigins === undefined
    ? []
    : stringList(r, 'allowedOrigins', (s) => normalizeOrigin(s) !== null,
      'an array of origins such as "https://app.example.com" (scheme, host and optional port, no path)')
  return {
    redis: redisOption(r),
    prefix: r.prefix(),
    routePrefix,
    getUser: r.fn<Settings['getUser']>('getUser') ?? defaultGetUser,
    isAdmin: r.fn<NonNullable<Settings['isAdmin']>>('isAdmin'),
    maxEntries: r.integer('maxEntries', 100, 1, 100_000),
    ttl: r.integer('ttl', 86_400, 1, 366 * 86_400),
    ignore: ignoreOption(r, routePrefix),
    redactQuery: new Set(redactQuery.map((s) => s.toLowerCase())),
    transform: r.fn<NonNullable<Settings['transform']>>('transform'),
    trackAnonymous: booleanOption(r, 'trackAnonymous', false),
    realtimeUrl: realtimeUrlOption(r),
    allowedOrigins: new Set(allowedOrigins.map((o) => normalizeOrigin(o) as string)),
    timeZone: timeZoneOption(r),
    maxBuffer: r.integer('maxBuffer', 10_000, 1, 10_000_000),
    anonymizeSecret: anonymizeSecretOption(r),
    exposeRequestId: booleanOption(r, 'exposeRequestId', false),
    describeUser: r.fn<NonNullable<Settings['describeUser']>>('describeUser')
  }
}
