// The admin JSON API (DESIGN.md "Admin HTTP API"). Where an entry becomes a table row: the
// `logs` route returns the stored JSON as it is, and the admin page renders it (public/admin).
import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Settings } from '../options.js'
import type { PluginContext } from '../context.js'
import { MAX_USER } from '../entry.js'
import { makeExports } from '../report/export.js'

// Query strings are validated as strings (the plugin's Ajv never coerces), then parsed.
const count = (max: number) => ({ type: 'string', pattern: `^[0-9]{1,${String(max).length}}$` })

/**
 * The user named by the path after `base` (e.g. `/api/logs/` + user + `/export`). Read from the
 * raw URL rather than a `:user` parameter because the host's router caps parameters at
 * `maxParamLength` (100 by default) while user names may be up to MAX_USER long, and because a
 * '/' in a name arrives encoded as %2F and must stay one segment.
 */
export function userFromPath (req: FastifyRequest, base: string, suffix = ''): string | null {
  const url = req.url
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  const start = path.indexOf(base)
  if (start === -1) return null
  let rest = path.slice(start + base.length)
  if (suffix !== '') {
    if (!rest.endsWith(suffix)) return null
    rest = rest.slice(0, -suffix.length)
  }
  if (rest === '' || rest.includes('/')) return null
  let user: string
  try { user = decodeURIComponent(rest) } catch { throw badRequest('params/user must be a valid percent-encoded name') }
  if (user.length > MAX_USER) throw badRequest(`params/user must NOT have more than ${MAX_USER} characters`)
  return user
}

function badRequest (message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 })
}

/** Parses a validated count and checks its range, answering 400 outside it. */
function bounded (value: string | undefined, def: number, min: number, max: number, name: string): number {
  if (value === undefined) return def
  const n = Number(value)
  if (n < min || n > max) {
    throw badRequest(`querystring/${name} must be from ${min} to ${max}`)
  }
  return n
}

/** How long a live-view grant is valid. */
export const TOKEN_TTL_S = 30

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
        properties: { q: { type: 'string', maxLength: MAX_USER }, limit: count(100) }
      }
    }
  }, async (req) => {
    const limit = bounded(req.query.limit, 20, 1, 100, 'limit')
    return { users: await store.searchUsers(req.query.q ?? '', limit) }
  })

  app.get<{ Querystring: { minutes?: string, limit?: string } }>('/api/active', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { minutes: count(1440), limit: count(1000) }
      }
    }
  }, async (req) => {
    const minutes = bounded(req.query.minutes, 5, 1, 1440, 'minutes')
    const limit = bounded(req.query.limit, 100, 1, 1000, 'limit')
    return { users: await store.activeUsers(minutes, limit) }
  })

  app.get<{ Querystring: { limit?: string } }>('/api/logs/*', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: count(100_000) } } },
    // `/api/logs/<user>/export` lands here too: it is the export (src/report/export.ts), which
    // validates its own query string, so it is answered before this route's validation.
    preValidation: async (req, reply) => {
      const user = userFromPath(req, '/api/logs/', '/export')
      if (user !== null) return await exportUser(req, reply, user)
    }
  }, async (req, reply) => {
    const user = userFromPath(req, '/api/logs/')
    if (user === null) return await reply.callNotFound()
    const limit = bounded(req.query.limit, settings.maxEntries, 1, settings.maxEntries, 'limit')
    const raw = await store.rawLog(user, limit)
    await audit.record(req, 'view', user)
    if (raw.length === 0) {
      return await reply.code(404).send({ error: 'Not Found', message: `No logs for ${user}` })
    }
    // The entries are stored as JSON: splice them in rather than parse and re-serialise.
    return await reply.type('application/json; charset=utf-8')
      .send(`{"user":${JSON.stringify(user)},"entries":[${raw.join(',')}]}`)
  })

  app.delete('/api/users/*', async (req, reply) => {
    const user = userFromPath(req, '/api/users/')
    if (user === null) return await reply.callNotFound()
    await store.deleteUser(user)
    await audit.record(req, 'erase', user)
    return await reply.code(204).send()
  })

  app.get<{ Querystring: { limit?: string } }>('/api/audit', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: { limit: count(1000) } } }
  }, async (req, reply) => {
    const limit = bounded(req.query.limit, 100, 1, 1000, 'limit')
    const raw = await audit.list(limit)
    return await reply.type('application/json; charset=utf-8').send(`{"entries":[${raw.join(',')}]}`)
  })

  app.post<{ Body: { user: string } }>('/api/token', {
    schema: {
      body: {
        type: 'object',
        required: ['user'],
        additionalProperties: false,
        properties: { user: { type: 'string', minLength: 1, maxLength: MAX_USER } }
      }
    }
  }, async (req) => {
    // 144 random bits; stored with a TTL and taken once by the realtime server (GETDEL).
    const token = randomBytes(18).toString('base64url')
    await store.client.set(store.keys.token(token), JSON.stringify({ user: req.body.user, admin: audit.adminName(req) }), 'EX', TOKEN_TTL_S)
    await audit.record(req, 'watch', req.body.user)
    return { token, url: realtimeUrlFor(settings, req), expiresIn: TOKEN_TTL_S }
  })
}
