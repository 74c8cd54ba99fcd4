// Plugin options: the public type, the defaults, and the validation that runs at register time.
// Every check throws an error that names the option and says what was expected, so a typo in a
// host app's configuration fails its start-up instead of silently logging nothing.
import type { FastifyRequest } from 'fastify'
import type { Redis, Cluster, RedisOptions } from 'ioredis'
import type { Entry } from './entry.js'
import { parseSeeds } from './cluster.js'
import { describeValue, integerOption } from './option-checks.js'

export type RedisLike = Redis | Cluster

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
  /** Seconds a user's log lives after their last entry. @default 86400 */
  ttl?: number
  /** Paths not logged: a string matches that path or a sub-path at a `/` boundary; a RegExp is tested on the path. @default [routePrefix, '/favicon.ico'] */
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
  /** Entries held in process while Redis is slow or down; beyond it new entries are dropped and counted. @default 10000 */
  maxBuffer?: number
  /** HMAC key for anonymized exports (required to offer them). */
  anonymizeSecret?: string
}

export const DEFAULT_REDACT_QUERY = ['password', 'token', 'access_token', 'id_token', 'api_key', 'apikey', 'secret', 'code', 'session', 'auth']

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
  allowedOrigins: string[] | null
  timeZone: string
  maxBuffer: number
  anonymizeSecret: string | null
}

const KNOWN = new Set(['redis', 'prefix', 'routePrefix', 'getUser', 'isAdmin', 'maxEntries', 'ttl', 'ignore',
  'redactQuery', 'transform', 'trackAnonymous', 'realtimeUrl', 'allowedOrigins', 'timeZone', 'maxBuffer', 'anonymizeSecret'])

export class OptionError extends Error {
  constructor (option: string, expected: string, got: unknown) {
    super(`fastify-userlog: option "${option}" must be ${expected} (got ${describeValue(got)})`)
    this.name = 'OptionError'
  }
}


function integer (opts: Record<string, unknown>, name: string, def: number, min: number, max: number): number {
  return integerOption(opts, name, def, min, max, (n, expected, got) => new OptionError(n, expected, got))
}

function fn<T> (opts: Record<string, unknown>, name: string): T | null {
  const v = opts[name]
  if (v === undefined) return null
  if (typeof v !== 'function') throw new OptionError(name, 'a function', v)
  return v as T
}

function isRedisInstance (v: object): v is RedisLike {
  return typeof (v as { defineCommand?: unknown }).defineCommand === 'function' &&
    typeof (v as { duplicate?: unknown }).duplicate === 'function'
}

function redisOption (v: unknown): Settings['redis'] {
  if (v === undefined) return process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  if (typeof v === 'string') {
    if (!/^rediss?:\/\//.test(v)) throw new OptionError('redis', 'a redis:// or rediss:// URL, comma-separated cluster seed URLs, ioredis options or an ioredis instance', v)
    try {
      parseSeeds(v)
    } catch (err) {
      throw new OptionError('redis', `a list of Redis Cluster seeds like "redis://host1:7000,redis://host2:7000" (${(err as Error).message})`, v)
    }
    return v
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new OptionError('redis', 'a redis:// or rediss:// URL, ioredis options or an ioredis instance', v)
  }
  // ioredis prefixes keys but not channels (and not keys inside scripts): refuse a keyPrefix
  // rather than write keys the realtime server cannot find.
  const keyPrefix = isRedisInstance(v) ? (v.options as { keyPrefix?: string }).keyPrefix : (v as RedisOptions).keyPrefix
  if (keyPrefix !== undefined && keyPrefix !== '') {
    throw new OptionError('redis', 'a client without keyPrefix (use the "prefix" option instead)', keyPrefix)
  }
  return v as Settings['redis']
}

function routePrefixOption (v: unknown): string {
  if (v === undefined) return '/userlog'
  if (typeof v !== 'string' || !/^\/[A-Za-z0-9._~\-/]*$/.test(v) || v.endsWith('/') || v.includes('//')) {
    throw new OptionError('routePrefix', 'a path like "/userlog" (starts with "/", no trailing "/")', v)
  }
  return v
}

function stringList (v: unknown, name: string, check: (s: string) => boolean, expected: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string' && check(s))) throw new OptionError(name, expected, v)
  return v as string[]
}

function originOption (s: string): boolean {
  try {
    const u = new URL(s)
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s
  } catch { return false }
}

function timeZoneOption (v: unknown): string {
  if (v === undefined) return 'UTC'
  if (typeof v !== 'string') throw new OptionError('timeZone', 'an IANA time zone name such as "Europe/Paris"', v)
  try {
    // The canonical name, so "utc" and "UTC" share report keys.
    return new Intl.DateTimeFormat('en-US', { timeZone: v }).resolvedOptions().timeZone
  } catch {
    throw new OptionError('timeZone', 'an IANA time zone name such as "Europe/Paris"', v)
  }
}

function defaultGetUser (req: FastifyRequest): string | undefined {
  const user = (req as FastifyRequest & { user?: { username?: unknown } }).user
  const name = user?.username
  return typeof name === 'string' ? name : undefined
}

export function validateOptions (input: unknown): Settings {
  if (input === undefined || input === null) input = {}
  if (typeof input !== 'object' || Array.isArray(input)) throw new OptionError('options', 'an object', input)
  const opts = input as Record<string, unknown>
  for (const name of Object.keys(opts)) {
    if (!KNOWN.has(name)) throw new Error(`fastify-userlog: unknown option "${name}" (known options: ${[...KNOWN].join(', ')})`)
  }

  const prefix = opts.prefix ?? 'userlog'
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(prefix)) {
    throw new OptionError('prefix', 'a string of 1 to 64 characters from [A-Za-z0-9_.:-]', prefix)
  }
  const routePrefix = routePrefixOption(opts.routePrefix)

  let ignore: Array<string | RegExp> = [routePrefix, '/favicon.ico']
  if (opts.ignore !== undefined) {
    if (!Array.isArray(opts.ignore) || !opts.ignore.every((p) => (typeof p === 'string' && p.startsWith('/')) || p instanceof RegExp)) {
      throw new OptionError('ignore', 'an array of paths starting with "/" and RegExps', opts.ignore)
    }
    ignore = opts.ignore as Array<string | RegExp>
  }

  let redactQuery: string[] = DEFAULT_REDACT_QUERY
  if (opts.redactQuery !== undefined) {
    redactQuery = stringList(opts.redactQuery, 'redactQuery', (s) => s.length > 0, 'an array of non-empty parameter names')
  }

  const trackAnonymous = opts.trackAnonymous ?? false
  if (typeof trackAnonymous !== 'boolean') throw new OptionError('trackAnonymous', 'a boolean', trackAnonymous)

  let realtimeUrl: string | null = null
  if (opts.realtimeUrl !== undefined) {
    const v = opts.realtimeUrl
    if (typeof v !== 'string' || !URL.canParse(v) || !/^wss?:$/.test(new URL(v).protocol)) throw new OptionError('realtimeUrl', 'a ws:// or wss:// URL', v)
    realtimeUrl = v as string
  }

  const allowedOrigins = opts.allowedOrigins === undefined
    ? null
    : stringList(opts.allowedOrigins, 'allowedOrigins', originOption, 'an array of origins such as "https://app.example.com" (scheme, host and optional port, no path)')

  let anonymizeSecret: string | null = null
  if (opts.anonymizeSecret !== undefined) {
    if (typeof opts.anonymizeSecret !== 'string' || opts.anonymizeSecret.length < 16) {
      throw new OptionError('anonymizeSecret', 'a string of at least 16 characters', opts.anonymizeSecret)
    }
    anonymizeSecret = opts.anonymizeSecret
  }

  return {
    redis: redisOption(opts.redis),
    prefix,
    routePrefix,
    getUser: fn<Settings['getUser']>(opts, 'getUser') ?? defaultGetUser,
    isAdmin: fn<NonNullable<Settings['isAdmin']>>(opts, 'isAdmin'),
    maxEntries: integer(opts, 'maxEntries', 100, 1, 100_000),
    ttl: integer(opts, 'ttl', 86_400, 1, 366 * 86_400),
    ignore,
    redactQuery: new Set(redactQuery.map((s) => s.toLowerCase())),
    transform: fn<NonNullable<Settings['transform']>>(opts, 'transform'),
    trackAnonymous,
    realtimeUrl,
    allowedOrigins,
    timeZone: timeZoneOption(opts.timeZone),
    maxBuffer: integer(opts, 'maxBuffer', 10_000, 1, 10_000_000),
    anonymizeSecret
  }
}
