// The plugin: wires options, the Redis client, the writer, the request hook and the routes.
// Only the hook and `fastify.userlog` reach the host's scope; every route, parser, validator
// and sub-plugin lives in an encapsulated child under `routePrefix`.
import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyPluginAsync } from 'fastify'
import { Ajv } from 'ajv'
import type { Entry, UserlogDecorator, UserlogOptions } from './types.js'
import { validateOptions } from './options.js'
import type { PluginContext } from './context.js'
import { Keys } from './shared/keys.js'
import { createClient, whenReady } from './shared/redis.js'
import { installErrorHandling } from './shared/http.js'
import { AlreadyRegisteredError, NoUserError } from './shared/errors.js'
import { userName } from './shared/users.js'
import { makeRequestHooks } from './write/hook.js'
import { logHostWebSockets } from './write/host-ws.js'
import { nextId } from './write/entry.js'
import { BatchWriter } from './write/writer.js'
import type { Contributor } from './write/batch.js'
import { makeAdminGuard } from './admin/guard.js'
import { adminApi } from './admin/api.js'
import { adminPage } from './admin/page.js'
import { Store } from './admin/store.js'
import { AuditLog } from './admin/audit.js'
import { sessionsApi } from './admin/sessions-api.js'
import { collectorRoutes } from './collector/routes.js'
import { sessionContributor } from './collector/sessions.js'
import { reportContributor } from './report/counters.js'
import { reportApi } from './report/routes.js'

/** Users kept in the "users" index at most (the oldest are forgotten first). */
const INDEX_CAP = 100_000
/** How long start-up waits for Redis before going on without it. */
const READY_WAIT_MS = 2000
/** On close, how long the buffer may take to reach Redis. */
const CLOSE_FLUSH_MS = 2000

async function routes (app: FastifyInstance, options: PluginContext & { prefix?: string }): Promise<void> {
  // Sub-plugins get the context without `prefix`, which would otherwise prefix them twice.
  const { prefix: _prefix, ...ctx } = options
  const { settings } = ctx
  // The plugin's own Ajv: report every bad field, never coerce types, never strip properties.
  const ajv = new Ajv({
    allErrors: true, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: true
  })
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema))
  installErrorHandling(app)
  app.addHook('onSend', async (_req, reply, payload) => {
    reply.header('X-Content-Type-Options', 'nosniff')
    reply.header('Referrer-Policy', 'no-referrer')
    return payload
  })
  // Public: tracker.js and the /events collector.
  await app.register(collectorRoutes, ctx)
  // Everything else is for admins only.
  await app.register(async (admin) => {
    admin.addHook('onRequest', makeAdminGuard(settings))
    admin.addHook('onSend', async (_req, reply, payload) => {
      if (!reply.hasHeader('Cache-Control')) reply.header('Cache-Control', 'no-store')
      return payload
    })
    await admin.register(adminApi, ctx)
    await admin.register(reportApi, ctx)
    await admin.register(sessionsApi, ctx)
    await admin.register(adminPage, { settings })
  })
}

const userlogPlugin: FastifyPluginAsync<UserlogOptions> = async (fastify, options) => {
  const settings = validateOptions(options)
  if (fastify.hasDecorator('userlog')) throw new AlreadyRegisteredError('fastify-userlog')
  const keys = new Keys(settings.prefix)
  // Admin reads give up on a frozen Redis (SIGSTOP keeps the socket open, so only a timeout
  // notices); writes have their own, shorter timeout in the writer.
  const { client, owned } = createClient(settings.redis, { connectionName: 'fastify-userlog', commandTimeout: 2000 })
  let lastError: Error | null = null
  if (owned) {
    // ioredis reports every failed reconnect; the writer already logs one warning per outage.
    client.on('error', (err: Error) => {
      lastError = err
      fastify.log.debug({ err }, 'fastify-userlog: Redis connection error')
    })
  }
  // Counters and sessions ride along with each write batch.
  const contributors = [sessionContributor({ settings, keys }), reportContributor({ settings, keys })]
    .filter((c): c is Contributor => c !== null)
  const writer = new BatchWriter(client, {
    keys, maxEntries: settings.maxEntries, ttl: settings.ttl, indexCap: INDEX_CAP, publish: true
  }, settings.maxBuffer, fastify.log, contributors)
  const store = new Store(client, keys)
  const ctx: PluginContext = { settings, keys, client, store, writer, audit: new AuditLog(client, keys, settings) }

  if (settings.isAdmin === null) {
    fastify.log.warn('fastify-userlog: no isAdmin option given, so the admin page and API deny everyone')
  }

  fastify.decorate('userlog', {
    record (user: string, fields: Record<string, unknown> = {}): boolean {
      const name = userName(user)
      if (name === undefined) throw new NoUserError()
      const entry: Entry = { kind: 'custom', ...fields, id: nextId(), t: Date.now(), user: name }
      return writer.push(entry)
    },
    stats: () => writer.stats(),
    flush: async () => { await writer.flush() }
  } satisfies UserlogDecorator)

  const hooks = makeRequestHooks(settings, writer, fastify.log)
  fastify.addHook('onResponse', hooks.onResponse)
  if (hooks.onSend !== null) fastify.addHook('onSend', hooks.onSend)
  logHostWebSockets(fastify, settings, writer)
  fastify.addHook('onClose', async () => {
    await writer.close(CLOSE_FLUSH_MS)
    if (owned) await client.quit().catch(() => { client.disconnect() })
  })

  await fastify.register(routes, { prefix: settings.routePrefix, ...ctx })

  if (owned && !(await whenReady(client, READY_WAIT_MS))) {
    // The reason names a certificate problem or an authentication error rather than leaving a guess.
    const reason = (lastError as Error | null)?.message
    const why = reason !== undefined ? ` (${reason})` : ''
    fastify.log.warn({ err: lastError ?? undefined },
      `fastify-userlog: Redis is not reachable yet${why}; entries are buffered until it is`)
  }
}

export const userlog = fp(userlogPlugin, { fastify: '5.x', name: 'fastify-userlog' })
