// The request hook: decides whether a finished request is logged and hands its entry to the
// writer. Callback style, so the host pays no promise per request.
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction, FastifyBaseLogger } from 'fastify'
import { compileIgnore, requestEntry, MAX_USER, truncate } from './entry.js'
import type { Settings } from './options.js'
import type { BatchWriter } from './writer.js'

export type OnResponse = (req: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

/** Normalises what getUser returned: a non-empty string (cut to MAX_USER) or undefined. */
export function userName (value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : truncate(value, MAX_USER)
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}

export function makeOnResponse (settings: Settings, writer: BatchWriter, log: FastifyBaseLogger): OnResponse {
  const { getUser, transform, redactQuery } = settings
  const ignored = compileIgnore(settings.ignore)
  // A throwing getUser or transform is the host's bug: say so once, not once per request.
  const warned = new Set<string>()
  const warnOnce = (what: string, err: unknown): void => {
    if (warned.has(what)) return
    warned.add(what)
    log.warn({ err }, `fastify-userlog: ${what} threw; those requests are not logged`)
  }

  return function userlogOnResponse (req, reply, done) {
    if ((req.routeOptions.config as { userlog?: unknown }).userlog === false) return done()
    let user: string | undefined
    try {
      user = userName(getUser(req))
    } catch (err) {
      warnOnce('getUser', err)
      return done()
    }
    if (user === undefined) return done()
    const url = req.url
    const q = url.indexOf('?')
    if (ignored(q === -1 ? url : url.slice(0, q))) return done()
    let entry = requestEntry(req, reply, user, redactQuery)
    if (transform !== null && transform !== undefined) {
      try {
        const out = transform(entry, req)
        if (out === null || out === undefined) return done()
        entry = out
      } catch (err) {
        warnOnce('transform', err)
        return done()
      }
    }
    writer.push(entry)
    done()
  }
}
