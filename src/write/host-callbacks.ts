// Calling the host's getUser and transform safely. A throw in either is the host's bug: it is
// logged once per callback and place (not once per request), and the request or event is then
// treated as the caller says (anonymous, or not logged). The host's requests never fail for it.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { Settings } from '../options.js'
import type { Entry } from '../types.js'
import { userName } from '../shared/users.js'
import { RequestEntry } from './entry.js'

export interface HostCallbacks {
  /** The request's user, or undefined for anonymous (or when getUser threw). */
  user: (req: FastifyRequest, log: FastifyBaseLogger) => string | undefined
  /** The entry after `transform`, or null when it should not be stored (or when transform threw). */
  transform: (entry: Entry, req: FastifyRequest, log: FastifyBaseLogger) => Entry | null
}

/** `where` names the caller in the warning ("" for the request hook, " on /events" for the collector). */
export function hostCallbacks (settings: Settings, where: string, onGetUserThrow: string): HostCallbacks {
  const { getUser, transform } = settings
  const warned = new Set<string>()
  const warnOnce = (log: FastifyBaseLogger, what: string, err: unknown, outcome: string): void => {
    if (warned.has(what)) return
    warned.add(what)
    log.warn({ err }, `fastify-userlog: ${what} threw${where}; ${outcome}`)
  }
  return {
    user (req, log) {
      try {
        return userName(getUser(req))
      } catch (err) {
        warnOnce(log, 'getUser', err, onGetUserThrow)
        return undefined
      }
    },
    transform (entry, req, log) {
      if (transform === null || transform === undefined) return entry
      try {
        // The host gets a plain copy of a request entry: the writer serialises a RequestEntry
        // by its known fields (entry-json.ts), which a transform may have changed.
        return transform(entry instanceof RequestEntry ? { ...entry } : entry, req) ?? null
      } catch (err) {
        warnOnce(log, 'transform', err, 'those entries are not logged')
        return null
      }
    }
  }
}
