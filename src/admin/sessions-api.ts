// GET {routePrefix}/api/sessions/<user>?limit=50 (admin only: registered inside the admin scope):
// the user's browser sessions, newest first:
//   { user, sessions: [{ sid, start, last, end, endedBy, duration, ua, fields, landing, pages, events }] }
// An unknown user has no sessions (200 with an empty list). Reading them is audited like a log view.
//
// GET {routePrefix}/api/users/<user>/card (admin only): who the user is (card.ts):
//   { user, browser: { name, version }, os: { name, version }, device, firstSeen, lastSeen, sessions, fields }
// 404 for a user with nothing retained. Audited like a log view. (`/api/users/<user>` itself is
// only DELETE, the erasure: this GET is a sub-path of it, so neither route shadows the other.)
import type { FastifyInstance } from 'fastify'
import type { PluginContext } from '../context.js'
import { boundedCount, countSchema, userFromPath } from '../shared/http.js'
import { readSessions } from '../collector/sessions.js'
import { BrowserCache } from '../report/browsers.js'
import { readCard } from './card.js'

export const MAX_SESSIONS_LISTED = 200

export async function sessionsApi (app: FastifyInstance, ctx: PluginContext): Promise<void> {
  const { client, keys, audit } = ctx
  app.get<{ Querystring: { limit?: string } }>('/api/sessions/*', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { limit: countSchema(MAX_SESSIONS_LISTED) }
      }
    }
  }, async (req, reply) => {
    const user = userFromPath(req, '/api/sessions/')
    if (user === null) { reply.callNotFound(); return reply }
    const limit = boundedCount(req.query.limit, 50, 1, MAX_SESSIONS_LISTED, 'limit')
    const sessions = await readSessions(client, keys, user, limit)
    await audit.record(req, 'view', user)
    return { user, sessions }
  })
  const agents = new BrowserCache(100)
  app.get('/api/users/*', {
    schema: { querystring: { type: 'object', additionalProperties: false, properties: {} } }
  }, async (req, reply) => {
    const user = userFromPath(req, '/api/users/', '/card')
    if (user === null) { reply.callNotFound(); return reply }
    const card = await readCard(client, keys, user, agents)
    await audit.record(req, 'view', user)
    if (card === null) return await reply.code(404).send({ error: 'Not Found', message: `Nothing retained of ${user}` })
    return card
  })
}
