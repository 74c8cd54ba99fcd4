// The published types of `fastify-userlog/realtime` (dist/realtime/index.d.ts through `exports`).
// Its own TypeScript project, like ../plugin: importing this entry is what adds
// `fastify.userlogRealtime`.
import Fastify, { type FastifyInstance } from 'fastify'
import { Redis, Cluster } from 'ioredis'
import { describe, expect, test } from 'tstyche'
import { userlogRealtime, type RealtimeDecorator, type RealtimeOptions } from 'fastify-userlog/realtime'

const app = Fastify()

describe('options', () => {
  test('register accepts no options and every documented shape', () => {
    expect(app.register).type.toBeCallableWith(userlogRealtime)
    expect(app.register).type.toBeCallableWith(userlogRealtime, {})
    expect(app.register).type.toBeCallableWith(userlogRealtime, {
      redis: 'redis://h1:7000,redis://h2:7000',
      prefix: 'app1',
      path: '/ws/live',
      origins: ['https://admin.example.com'],
      maxBufferedBytes: 1 << 20,
      stuckMs: 30_000,
      pingIntervalMs: 30_000,
      authTimeoutMs: 5000,
      redisPingMs: 5000,
      commandTimeoutMs: 2000,
      healthPath: false,
      metricsPath: '/internal/metrics'
    })
    expect(app.register).type.toBeCallableWith(userlogRealtime, { redis: new Redis({ lazyConnect: true }) })
    expect(app.register).type
      .toBeCallableWith(userlogRealtime, { redis: new Cluster([{ host: '127.0.0.1', port: 7000 }]) })
  })

  test('register rejects wrong types and unknown options', () => {
    // Unlike the request-logging plugin, the realtime server takes no ioredis options object.
    expect(app.register).type.not.toBeCallableWith(userlogRealtime, { redis: { host: '127.0.0.1', port: 6379 } })
    expect(app.register).type.not.toBeCallableWith(userlogRealtime, { origins: 'https://admin.example.com' })
    expect(app.register).type.not.toBeCallableWith(userlogRealtime, { healthPath: true })
    expect(app.register).type.not.toBeCallableWith(userlogRealtime, { stuckMs: '30s' })
    expect(app.register).type.not.toBeCallableWith(userlogRealtime, { port: 8080 })
  })

  test('RealtimeOptions on its own', () => {
    expect<RealtimeOptions['redis']>().type.toBe<string | Redis | Cluster | undefined>()
    expect<RealtimeOptions['healthPath']>().type.toBe<string | false | undefined>()
    expect<RealtimeOptions>().type.not.toBeAssignableFrom<{ bogus: true }>()
  })
})

describe('fastify.userlogRealtime', () => {
  test('is the decorator once the realtime entry is imported', () => {
    expect<FastifyInstance['userlogRealtime']>().type.toBe<RealtimeDecorator>()
    expect(app.userlogRealtime).type.toHaveProperty('hub')
    expect(app.userlogRealtime.settings.path).type.toBe<string>()
    expect(app.userlogRealtime.settings.healthPath).type.toBe<string | null>()
    expect(app.userlogRealtime.stats().connections).type.toBe<number>()
    expect(app.userlogRealtime.viewers()[0]?.user).type.toBe<string | undefined>()
    expect(app.userlogRealtime.viewers()[0]?.stuck).type.toBe<boolean | undefined>()
  })

  test('hub and settings are read-only', () => {
    // @ts-expect-error Cannot assign to 'settings' because it is a read-only property
    app.userlogRealtime.settings = { ...app.userlogRealtime.settings }
  })
})
