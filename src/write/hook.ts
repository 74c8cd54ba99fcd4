// The request hook, the first step of the write path: decides whether a finished request is
// logged, makes its entry (entry.ts) and hands it to the writer (writer.ts). Callback style, so
// the host pays no promise per request.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, FastifyBaseLogger } from 'fastify'
import { compileIgnore, requestEntry } from './entry.js'
import { hostCallbacks } from './host-callbacks.js'
import type { Settings } from '../options.js'
import type { BatchWriter } from './writer.js'

export type OnResponse = (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

export function makeOnResponse (settings: Settings, writer: BatchWriter, log: FastifyBaseLogger): OnResponse {
  const { redactQuery } = settings
  const ignored = compileIgnore(settings.ignore)
  const host = hostCallbacks(settings, '', 'those requests are not logged')
  const transforms = settings.transform !== null

  return function userlogOnResponse (req, reply, done) {
    if ((req.routeOptions.config as { userlog?: unknown }).userlog === false) return done()
    const user = host.user(req, log)
    if (user === undefined) return done()
    const url = req.url
    const q = url.indexOf('?')
    if (ignored(q === -1 ? url : url.slice(0, q))) return done()
    const entry = requestEntry(req, reply, user, redactQuery)
    const out = transforms ? host.transform(entry, req, log) : entry
    if (out !== null) writer.push(out)
    done()
  }
}
