// exposeRequestId: the responses of logged requests name their entry's reqId (Fastify's req.id,
// which requestEntry stores) in a header, so the page, a support agent or the tracker can point
// at the exact log line. Set in onSend, the last moment before the headers go out; onResponse
// (where the entry is made) is too late. Readable by a cross-origin page's script only when its
// Origin is in allowedOrigins: the host's own CORS setup still decides whether the response may
// be read at all, this only adds the header to Access-Control-Expose-Headers.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { LoggedUser } from './hook.js'

export const REQUEST_ID_HEADER = 'x-userlog-request-id'

export type OnSend = (
  req: FastifyRequest, reply: FastifyReply, payload: unknown, done: (err: null, payload: unknown) => void
) => void

export function makeRequestIdHeader (loggedUser: LoggedUser, allowedOrigins: ReadonlySet<string>): OnSend {
  return function userlogRequestId (req, reply, payload, done) {
    if (loggedUser(req) !== undefined) {
      reply.header(REQUEST_ID_HEADER, req.id)
      const origin = req.headers.origin
      if (origin !== undefined && allowedOrigins.has(origin)) {
        const exposed = reply.getHeader('access-control-expose-headers')
        reply.header('access-control-expose-headers',
          exposed === undefined || exposed === '' ? REQUEST_ID_HEADER : `${String(exposed)}, ${REQUEST_ID_HEADER}`)
      }
    }
    done(null, payload)
  }
}
