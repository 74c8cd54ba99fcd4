// The admin JSON API: users, active users, a user's log, erasure, the audit trail and live-view
// grants. Where an entry becomes a table row: the `logs` route returns the stored JSON as it is,
// and the admin page renders it (public/admin/assets/logtable.js).
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Settings } from '../options.js'
import type { PluginContext } from '../context.js'
import { MAX_USER } from '../shared/users.js'
import { boundedCount, countSchema, userFromPath } from '../shared/http.js'
import { GRANT_TTL_S, newToken, serializeGrant } from '../shared/grants.js'
import { makeExports } from '../report/export.js'
import { filterOf, filterQuerySchema, filters, type FilterQuery } from '../shared/view-rules.js'
import { withSessionAgents } from '../collector/sessions.js'

/** Characters of a watch's reason kept in the audit trail. */
export const MAX_REASON = 200

export function realtimeUrlFor (settings: Settings, req: FastifyRequest): string {
  if (settings.realtimeUrl !== null) return settings.realtimeUrl
  const scheme = req.protocol === 'https' ? 'wss' : 'ws'
  const host = req.hostname.includes(':') && !req.hostname.startsWith('[') ? `[${req.hostname}]` : req.hostname
  return `${scheme}://${host}:8080/live`
}

export async function adminApi (app: FastifyInstance, ctx: PluginContext): Promise<void> {
  const { settings, store, audit } = ctx
  const { exportUser } = makeExports(ctx)
  app.get('/api/config', async (req) => ({
    realtimeUrl: realtimeUrlFor(settings, req),
    maxEntries: settings.maxEntries,
    timeZone: settings.timeZone,
    anonymize: settings.anonymizeSecret !== null
  }))

  app.get<{ Querystring: { q?: string, limit?: string } }>('/api/users', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { q: { type: 'string', maxLength: MAX_USER }, limit: countSchema(100) }
      }
    }
  }, async (req) => {
    const limit = boundedCount(req.query.limit, 20, 1, 100, 'limit')
    return { users: await store.searchUsers(req.query.q ?? '', limit) }
  })

  app.get<{ Querystring: { minutes?: string, limit?: string } }>('/api/active', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { minutes: countSchema(1440), limit: countSchema(1000) }
      }
    }
  }, async (req) => {
    const minutes = boundedCount(req.query.minutes, 5, 1, 1440, 'minutes')
    const limit = boundedCount(req.query.limit, 100, 1, 1000, 'limit')
    return { users: await store.activeUsers(minutes, limit) }
  })

  app.get<{ Querystring: { limit?: string } & FilterQuery }>('/api/logs/*', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { limit: countSchema(100_000), ...filterQuerySchema }
      }
    },
    // `/api/logs/<user>/export` lands here too: it is the export (src/report/export.ts), which
    // validates its own query string, so it is answered before this route's validation.
    preValidation: async (req, reply) => {
      const user = userFromPath(req, '/api/logs/', '/export')
      if (user !== null) return await exportUser(req, reply, user)
    }
  }, async (req, reply) => {
    const user = userFromPath(req, '/api/logs/')
    if (user === null) { reply.callNotFound(); return reply }
    const limit = boundedCount(req.query.limit, settings.maxEntries, 1, settings.maxEntries, 'limit')
    const filter = filterOf(req.query)
    const raw = await store.rawLog(user, limit)
    await audit.record(req, 'view', user)
    if (raw.length === 0) {
      return await reply.code(404).send({ error: 'Not Found', message: `No logs for ${user}` })
    }
    // A filter looks into each entry; the entries are sent as stored either way (JSON spliced in,
    // not re-serialised). `limit` counts the stored entries read, before the filter.
    const shown = filters.isEmpty(filter)
      ? raw
      : raw.filter((json) => filters.matches(filter, JSON.parse(json) as Record<string, unknown>))
    const entries = await withSessionAgents(store.client, store.keys, user, shown)
    return await reply.type('application/json; charset=utf-8')
      .send(`{"user":${JSON.stringify(user)},"entries":[${entries.join(',')}]}`)
  })

  app.delete('/api/users/*', async (req, reply) => {
    const user = userFromPath(req, '/api/users/')
    if (user === null) { reply.callNotFound(); return reply }
    await store.deleteUser(user)
    await audit.record(req, 'erase', user)
    return await reply.code(204).send()
  })

  app.get<{ Querystring: { limit?: string } }>('/api/audit', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: countSchema(1000) } } }
  }, async (req, reply) => {
    const limit = boundedCount(req.query.limit, 100, 1, 1000, 'limit')
    const raw = await audit.list(limit)
    return await reply.type('application/json; charset=utf-8').send(`{"entries":[${raw.join(',')}]}`)
  })

  app.post<{ Body: { user: string, reason?: string, stream?: 'entries' | 'presence' } }>('/api/token', {
    schema: {
      body: {
        type: 'object',
        required: ['user'],
        additionalProperties: false,
        properties: {
          user: { type: 'string', minLength: 1, maxLength: MAX_USER },
          // Free text for the audit trail (a ticket id, "customer on the phone").
          reason: { type: 'string', maxLength: MAX_REASON },
          // Only recorded: the realtime server decides what a grant may stream.
          stream: { type: 'string', enum: ['entries', 'presence'] }
        }
      }
    }
  }, async (req) => {
    const { reason, stream } = req.body
    // Stored with a TTL and taken once by the realtime server (GETDEL).
    const token = newToken()
    const grant = serializeGrant({ user: req.body.user, admin: audit.adminName(req) })
    await store.client.set(store.keys.token(token), grant, 'EX', GRANT_TTL_S)
    await audit.record(req, 'watch', req.body.user, {
      ...(reason !== undefined && reason.trim() !== '' ? { reason: reason.trim() } : {}),
      ...(stream === 'presence' ? { stream } : {})
    })
    return { token, url: realtimeUrlFor(settings, req), expiresIn: GRANT_TTL_S }
  })
}
