// The published types of the main entry, as a user's TypeScript sees them: `fastify-userlog`
// resolves through package.json `exports` to dist/index.d.ts, so `make build` runs first.
// This folder is its own TypeScript project: only what this file imports is loaded, so the
// realtime entry's augmentation of FastifyInstance does not leak in from realtime.tst.ts.
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { Redis, Cluster } from 'ioredis'
import { describe, expect, test } from 'tstyche'
import userlogDefault, {
  userlog, type Entry, type EntryKind, type RedisLike, type UserlogDecorator, type UserlogOptions, type WriterStats
} from 'fastify-userlog'

const app = Fastify()

describe('exports', () => {
  test('the default export is the named `userlog`', () => {
    expect(userlogDefault).type.toBe(userlog)
  })

  test('RedisLike is an ioredis Redis or Cluster', () => {
    expect<RedisLike>().type.toBe<Redis | Cluster>()
  })
})

describe('options', () => {
  test('register accepts no options and every documented shape', () => {
    expect(app.register).type.toBeCallableWith(userlog)
    expect(app.register).type.toBeCallableWith(userlog, {})
    expect(app.register).type.toBeCallableWith(userlog, {
      redis: 'redis://127.0.0.1:6379',
      prefix: 'app1',
      routePrefix: '/support',
      getUser: (req: FastifyRequest) => req.headers['x-user'] === undefined ? null : String(req.headers['x-user']),
      isAdmin: async () => true,
      maxEntries: 500,
      ttl: 3600,
      ignore: ['/health', /^\/static\//],
      redactQuery: ['password'],
      transform: (entry: Entry) => ({ ...entry, tenant: 'acme' }),
      trackAnonymous: true,
      realtimeUrl: 'wss://live.example.com/live',
      allowedOrigins: ['https://app.example.com'],
      timeZone: 'Europe/Paris',
      maxBuffer: 1000,
      anonymizeSecret: '0123456789abcdef',
      exposeRequestId: true
    })
    expect(app.register).type.toBeCallableWith(userlog, { redis: { host: '127.0.0.1', port: 6379 } })
    expect(app.register).type.toBeCallableWith(userlog, { redis: new Redis({ lazyConnect: true }) })
    expect(app.register).type.toBeCallableWith(userlog, { redis: new Cluster([{ host: '127.0.0.1', port: 7000 }]) })
    expect(app.register).type.toBeCallableWith(userlog, { getUser: () => undefined, isAdmin: () => false })
    expect(app.register).type.toBeCallableWith(userlog, { transform: () => null })
  })

  test('register rejects wrong types and unknown options', () => {
    expect(app.register).type.not.toBeCallableWith(userlog, { maxEntries: '100' })
    expect(app.register).type.not.toBeCallableWith(userlog, { redis: 6379 })
    expect(app.register).type.not.toBeCallableWith(userlog, { ignore: '/health' })
    expect(app.register).type.not.toBeCallableWith(userlog, { ignore: [42] })
    expect(app.register).type.not.toBeCallableWith(userlog, { trackAnonymous: 'yes' })
    expect(app.register).type.not.toBeCallableWith(userlog, { exposeRequestId: 'yes' })
    expect(app.register).type.not.toBeCallableWith(userlog, { maxEntry: 100 })
    // A header may be an array: getUser must return one string (or null / undefined).
    expect(app.register).type.not.toBeCallableWith(userlog, { getUser: (req: FastifyRequest) => req.headers['x-user'] })
    expect(app.register).type.not.toBeCallableWith(userlog, { isAdmin: () => 'yes' })
    expect(app.register).type.not.toBeCallableWith(userlog, { transform: () => 'skip' })
  })

  test('UserlogOptions on its own', () => {
    expect<UserlogOptions>().type.toBeAssignableFrom<{ maxEntries: number, ignore: string[] }>()
    expect<UserlogOptions>().type.not.toBeAssignableFrom<{ maxEntries: string }>()
    expect<UserlogOptions>().type.not.toBeAssignableFrom<{ bogus: true }>()
    expect<NonNullable<UserlogOptions['isAdmin']>>().type.toBe<(req: FastifyRequest) => boolean | Promise<boolean>>()
    expect<NonNullable<UserlogOptions['transform']>>().type
      .toBe<(entry: Entry, req: FastifyRequest) => Entry | null | undefined>()
  })
})

describe('fastify.userlog', () => {
  test('is the decorator, after register', () => {
    expect<FastifyInstance['userlog']>().type.toBe<UserlogDecorator>()
    expect(app.userlog.record('alice')).type.toBe<boolean>()
    expect(app.userlog.record('alice', { kind: 'checkout', cart: 3 })).type.toBe<boolean>()
    expect(app.userlog.flush()).type.toBe<Promise<void>>()
    expect(app.userlog.stats()).type.toBe<WriterStats>()
    expect(app.userlog.record).type.not.toBeCallableWith()
    expect(app.userlog.record).type.not.toBeCallableWith(42)
    expect(app.userlog.record).type.not.toBeCallableWith('alice', 'fields')
  })

  test('stats() has the documented fields', () => {
    expect<WriterStats>().type.toBe<{
      buffered: number
      written: number
      dropped: number
      batches: number
      failedBatches: number
      redis: 'up' | 'down'
    }>()
  })
})

describe('Entry', () => {
  test('has the documented fields and keeps unknown ones', () => {
    expect<Entry['id']>().type.toBe<string>()
    expect<Entry['t']>().type.toBe<number>()
    expect<Entry['user']>().type.toBe<string>()
    expect<Entry['kind']>().type.toBe<EntryKind | (string & {})>()
    expect<'request'>().type.toBeAssignableTo<Entry['kind']>()
    expect<'my-own-kind'>().type.toBeAssignableTo<Entry['kind']>()
    expect<Entry['method']>().type.toBe<string | undefined>()
    expect<Entry['path']>().type.toBe<string | undefined>()
    expect<Entry['route']>().type.toBe<string | null | undefined>()
    expect<Entry['status']>().type.toBe<number | undefined>()
    expect<Entry['ms']>().type.toBe<number | undefined>()
    expect<Entry['tenant']>().type.toBe<unknown>()
    expect<Entry>().type.toBeAssignableFrom<{ id: string, t: number, user: string, kind: 'custom' }>()
    expect<Entry>().type.not.toBeAssignableFrom<{ t: number, user: string, kind: 'custom' }>()
    expect<Entry>().type.not.toBeAssignableFrom<{ id: string, t: string, user: string, kind: 'custom' }>()
  })

  test('EntryKind lists the kinds the plugin writes', () => {
    expect<EntryKind>().type.toBe<'request' | 'pageview' | 'heartbeat' | 'interaction' | 'session_end' | 'ws_close' |
      'custom' | 'visibility' | 'error' | 'request_failed'>()
  })
})

describe('route config', () => {
  test('{ config: { userlog: false } } opts a route out; nothing else is allowed', () => {
    expect(app.get).type.toBeCallableWith('/health', { config: { userlog: false } }, async () => 'ok')
    expect(app.route.bind(app)).type
      .toBeCallableWith({ method: 'GET', url: '/health', config: { userlog: false }, handler: async () => 'ok' })
    expect(app.get).type.not.toBeCallableWith('/health', { config: { userlog: true } }, async () => 'ok')
    expect(app.get).type.not.toBeCallableWith('/health', { config: { userlog: 'off' } }, async () => 'ok')
    expect(app.route.bind(app)).type
      .not.toBeCallableWith({ method: 'GET', url: '/health', config: { userlog: true }, handler: async () => 'ok' })
  })
})

describe('the main entry alone', () => {
  // The realtime server is its own entry point: importing 'fastify-userlog' adds nothing of it.
  test('does not add fastify.userlogRealtime', () => {
    expect<FastifyInstance>().type.not.toHaveProperty('userlogRealtime')
  })
})
