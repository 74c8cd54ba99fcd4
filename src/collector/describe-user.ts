// The host's describeUser(req): who the user is, in a few short fields, for the admin page's
// user card. Called once per browser session (on the post that starts it), so what it returns
// is bounded here rather than trusted: at most MAX_FIELDS fields, keys of at most MAX_KEY
// characters, values strings of at most MAX_VALUE (numbers and booleans become strings).
// Past that: extra fields, over-long keys and values of other types are ignored, long values
// cut; the first time that happens one warning says so. A throw (or a Promise: it is not awaited)
// is logged once and the session gets no fields. The host's requests never fail for it.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { Settings } from '../options.js'

export const MAX_FIELDS = 8
export const MAX_KEY = 32
export const MAX_VALUE = 100

export type UserFields = Record<string, string>

/** Cuts `s` to `max` UTF-16 units without leaving half a surrogate pair at the end. */
function cut (s: string, max: number): string {
  if (s.length <= max) return s
  const head = s.slice(0, max)
  const last = head.charCodeAt(max - 1)
  return last >= 0xd800 && last <= 0xdbff ? head.slice(0, -1) : head
}

/** The fields kept of what describeUser returned, and whether anything was dropped or cut. */
export function boundFields (value: unknown): { fields: UserFields | null, trimmed: boolean } {
  if (value === undefined || value === null) return { fields: null, trimmed: false }
  if (typeof value !== 'object' || Array.isArray(value)) return { fields: null, trimmed: true }
  const fields: UserFields = {}
  let kept = 0
  let trimmed = false
  for (const [key, v] of Object.entries(value)) {
    let text: string
    if (typeof v === 'string') text = v
    else if (typeof v === 'number' || typeof v === 'boolean') text = String(v)
    else { trimmed = true; continue }
    if (key === '' || key.length > MAX_KEY || kept === MAX_FIELDS) { trimmed = true; continue }
    if (text.length > MAX_VALUE) trimmed = true
    // defineProperty: a key named __proto__ stays a field.
    Object.defineProperty(fields, key, { value: cut(text, MAX_VALUE), enumerable: true, writable: true })
    kept++
  }
  return { fields: kept === 0 ? null : fields, trimmed }
}

/** describeUser wrapped: null when the option is not set. */
export function makeDescribeUser (
  settings: Pick<Settings, 'describeUser'>
): ((req: FastifyRequest, log: FastifyBaseLogger) => UserFields | null) | null {
  const describe = settings.describeUser
  if (describe === null || describe === undefined) return null
  const warned = new Set<string>()
  const warnOnce = (log: FastifyBaseLogger, what: string, message: string, err?: unknown): void => {
    if (warned.has(what)) return
    warned.add(what)
    log.warn({ err }, `fastify-userlog: describeUser ${message}`)
  }
  return (req, log) => {
    let value: unknown
    try {
      value = describe(req)
    } catch (err) {
      warnOnce(log, 'throw', 'threw; those sessions get no user fields', err)
      return null
    }
    if (value instanceof Promise) {
      value.catch(() => {})
      warnOnce(log, 'async', 'returned a Promise, which is not awaited: return the fields themselves')
      return null
    }
    const { fields, trimmed } = boundFields(value)
    if (trimmed) {
      warnOnce(log, 'bounds', `must return an object of at most ${MAX_FIELDS} fields, keys of at most ` +
        `${MAX_KEY} characters and string, number or boolean values of at most ${MAX_VALUE} characters; ` +
        'the rest is ignored and long values are cut')
    }
    return fields
  }
}
