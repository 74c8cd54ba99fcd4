// The request hooks, the first step of the write path: onResponse decides whether a finished
// request is logged, makes its entry (entry.ts) and hands it to the writer (writer.ts); with
// exposeRequestId, an onSend hook names the entry's reqId in the response (request-id.ts).
// Callback style, so the host pays no promise per request.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, FastifyBaseLogger } from 'fastify'
import { compileIgnore, requestEntry } from './entry.js'
import { hostCallbacks, type HostCallbacks } from './host-callbacks.js'
import { makeRequestIdHeader, type OnSend } from './request-id.js'
import type { Settings } from '../options.js'
import type { BatchWriter } from './writer.js'

export type OnResponse = (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/**
 * The user a request is logged for, or undefined when it is not logged (opted out, anonymous,
 * ignored). `route` is the request's routeOptions, which Fastify builds anew on each read.
 */
export type LoggedUser = (req: FastifyRequest, route?: RouteOptions) => string | undefined
type RouteOptions = FastifyRequest['routeOptions']

function makeLoggedUser (settings: Settings, host: HostCallbacks, log: FastifyBaseLogger): LoggedUser {
  const ignored = compileIgnore(settings.ignore)
  return function loggedUser (req, route = req.routeOptions) {
    if ((route.config as { userlog?: unknown }).userlog === false) return undefined
    const user = host.user(req, log)
    if (user === undefined) return undefined
    return ignored(req.url) ? undefined : user
  }
}

export interface RequestHooks {
  onResponse: OnResponse
  /** Only with exposeRequestId: requests of others then pay nothing. */
  onSend: OnSend | null
}

export function makeRequestHooks (settings: Settings, writer: BatchWriter, log: FastifyBaseLogger): RequestHooks {
  const { redactQuery } = settings
  const host = hostCallbacks(settings, '', 'those requests are not logged')
  const decide = makeLoggedUser(settings, host, log)
  const transforms = settings.transform !== null
  // With exposeRequestId, onSend decides first: onResponse reuses its answer, so the host's getUser
  // runs once per request either way (a reply that never reaches onSend is decided in onResponse).
  const decided = settings.exposeRequestId ? new WeakMap<FastifyRequest, string | undefined>() : null
  const loggedUser: LoggedUser = decided === null
    ? decide
    : (req) => {
        const user = decide(req)
        decided.set(req, user)
        return user
      }

  function userlogOnResponse (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const route = req.routeOptions
    const user = decided !== null && decided.has(req) ? decided.get(req) : decide(req, route)
    if (user === undefined) return done()
    const entry = requestEntry(req, reply, user, redactQuery, route.url ?? null)
    const out = transforms ? host.transform(entry, req, log) : entry
    if (out !== null) writer.push(out)
    done()
  }
  return {
    onResponse: userlogOnResponse,
    onSend: decided === null ? null : makeRequestIdHeader(loggedUser, settings.allowedOrigins)
  }
}
