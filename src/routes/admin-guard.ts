// Default deny: every admin route and the admin page go through this hook. Without an isAdmin
// option nobody is an admin; a throwing or rejecting isAdmin denies too.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Settings } from '../options.js'

const FORBIDDEN_HTML = '<!doctype html><meta charset="utf-8"><title>403 Forbidden</title>' +
  '<p>403 Forbidden: only administrators can open the user log.</p>'

export function makeAdminGuard (settings: Settings) {
  const apiPrefix = settings.routePrefix + '/api/'
  return async function adminGuard (req: FastifyRequest, reply: FastifyReply): Promise<void> {
    let allowed = false
    if (settings.isAdmin !== null) {
      try {
        allowed = (await settings.isAdmin(req)) === true
      } catch (err) {
        req.log.warn({ err }, 'fastify-userlog: isAdmin threw; access denied')
      }
    }
    if (allowed) return
    if (req.url.startsWith(apiPrefix)) {
      await reply.code(403).send({ error: 'Forbidden', message: 'Only administrators can read user logs' })
    } else {
      await reply.code(403).type('text/html; charset=utf-8').send(FORBIDDEN_HTML)
    }
  }
}
