// GET {routePrefix}/api/sessions/<user>?limit=50 (admin only: registered inside the admin scope):
// the user's browser sessions, newest first:
//   { user, sessions: [{ sid, start, last, end, endedBy, duration, ua, landing, pages, events }] }
// An unknown user has no sessions (200 with an empty list). Reading them is audited like a log view.
import type { FastifyInstance } from 'fastify'
import type { PluginContext } from '../context.js'
import { boundedCount, countSchema, userFromPath } from '../shared/http.js'
import { readSessions } from '../collector/sessions.js'

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
}
