// Where a request becomes an entry: method, path (its query redacted), route, status, time, IP,
// user agent and request id, long fields truncated; never headers or bodies. Runs in the host's
// onResponse hook, so it avoids
// regexps and allocations where it can.
import { randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Entry } from '../types.js'

export const MAX_PATH = 2048
export const MAX_UA = 512

// Entry ids: a random per-process prefix plus a counter. Unique across processes and restarts
// without a random draw per request. Letters and digits only, of a fixed length: an id never
// starts with a character a spreadsheet reads as a formula, so it round-trips through a CSV export.
const bootId = randomBytes(6).readUIntBE(0, 6).toString(36).padStart(10, '0')
let sequence = 0
export function nextId (): string {
  return bootId + (++sequence).toString(36)
}

export function truncate (s: string, max: number): string {
  return s.length > max ? s.slice(0, max) : s
}

/**
 * Replaces the values of the named query parameters with `REDACTED`. Names compare
 * case-insensitively after percent-decoding, so `?Pass%77ord=x` is caught too.
 */
export function redactUrl (url: string, names: ReadonlySet<string>): string {
  const q = url.indexOf('?')
  if (q === -1 || names.size === 0) return url
  const parts = url.slice(q + 1).split('&')
  let changed = false
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string
    const eq = part.indexOf('=')
    const rawName = eq === -1 ? part : part.slice(0, eq)
    if (names.has(decodeName(rawName))) {
      parts[i] = rawName + '=REDACTED'
      changed = true
    }
  }
  return changed ? url.slice(0, q + 1) + parts.join('&') : url
}

function decodeName (raw: string): string {
  const plus = raw.includes('+') ? raw.replaceAll('+', ' ') : raw
  if (!plus.includes('%')) return plus.toLowerCase()
  try { return decodeURIComponent(plus).toLowerCase() } catch { return plus.toLowerCase() }
}

/**
 * A compiled `ignore` option, tested on a request URL without its query: strings match the path
 * or a sub-path at a `/` boundary, a RegExp is tested on the path.
 */
export function compileIgnore (patterns: Array<string | RegExp>): (url: string) => boolean {
  const exact = new Set<string>()
  const prefixes: string[] = []
  const regexps: RegExp[] = []
  for (const p of patterns) {
    if (p instanceof RegExp) {
      // A global or sticky RegExp keeps lastIndex between calls: use a fresh, stateless copy.
      regexps.push(new RegExp(p.source, p.flags.replace(/[gy]/g, '')))
    } else {
      const base = p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p
      exact.add(base)
      prefixes.push(base === '/' ? '/' : base + '/')
    }
  }
  return (url) => {
    const q = url.indexOf('?')
    const path = q === -1 ? url : url.slice(0, q)
    if (exact.has(path)) return true
    for (const prefix of prefixes) if (path.startsWith(prefix)) return true
    for (const re of regexps) if (re.test(path)) return true
    return false
  }
}

/**
 * The entry of one finished request, as the hook makes it. A class of its own, so that the
 * writer can serialise it with a template instead of JSON.stringify (entry-json.ts); an entry a
 * host's `transform` may change is a plain copy instead (host-callbacks.ts).
 */
export class RequestEntry implements Entry {
  [field: string]: unknown
  id: string
  t: number
  user: string
  kind: 'request'
  method: string
  path: string
  route: string | null
  status: number
  ms: number
  ip: string
  ua: string
  reqId: string

  constructor (id: string, t: number, user: string, method: string, path: string, route: string | null,
    status: number, ms: number, ip: string, ua: string, reqId: string) {
    // Assigned in the order the fields are stored in.
    this.id = id
    this.t = t
    this.user = user
    this.kind = 'request'
    this.method = method
    this.path = path
    this.route = route
    this.status = status
    this.ms = ms
    this.ip = ip
    this.ua = ua
    this.reqId = reqId
  }
}

/** Builds the entry of one finished request. */
export function requestEntry (
  req: FastifyRequest, reply: FastifyReply, user: string, redact: ReadonlySet<string>, route: string | null
): RequestEntry {
  const ua = req.headers['user-agent']
  return new RequestEntry(
    nextId(),
    Date.now(),
    user,
    req.method,
    truncate(redactUrl(req.url, redact), MAX_PATH),
    route,
    reply.statusCode,
    Math.round(reply.elapsedTime * 10) / 10,
    // A socket already closed has no address; a host's genReqId may return a number.
    req.ip ?? '',
    ua === undefined ? '' : truncate(ua, MAX_UA),
    String(req.id)
  )
}
