// Default deny: every admin route and the admin page go through this hook. Without an isAdmin
// option nobody is an admin; a throwing or rejecting isAdmin denies too.
// The API also refuses cross-origin requests (a foreign Origin, or Sec-Fetch-Site cross-site or
// same-site without one): the admin's cookie would otherwise let another site's page erase a user
// or mint a live-view grant. The page itself may be opened from a link on any site.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Settings } from '../options.js'
import { makeOriginCheck } from '../shared/origin.js'

const FORBIDDEN_HTML = '<!doctype html><meta charset="utf-8"><title>403 Forbidden</title>' +
  '<p>403 Forbidden: only administrators can open the user log.</p>'

export function makeAdminGuard (settings: Settings) {
  const apiPrefix = settings.routePrefix + '/api/'
  const crossOrigin = makeOriginCheck(new Set())
  return async function adminGuard (req: FastifyRequest, reply: FastifyReply): Promise<void> {
    const api = req.url.startsWith(apiPrefix)
    if (api && crossOrigin(req) !== null) {
      await reply.code(403).send({ error: 'Forbidden', message: 'The admin API answers pages of its own origin only' })
      return
    }
    let allowed = false
    if (settings.isAdmin !== null) {
      try {
        allowed = (await settings.isAdmin(req)) === true
      } catch (err) {
        req.log.warn({ err }, 'fastify-userlog: isAdmin threw; access denied')
      }
    }
    if (allowed) return
    if (api) {
      await reply.code(403).send({ error: 'Forbidden', message: 'Only administrators can read user logs' })
    } else {
      await reply.code(403).type('text/html; charset=utf-8').send(FORBIDDEN_HTML)
    }
  }
}
