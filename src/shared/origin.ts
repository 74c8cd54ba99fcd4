// The one origin rule, used by the plugin's options and /events, the admin guard, and the
// realtime server's options and upgrade check. An origin is parsed and normalised as browsers send
// it in `Origin` (scheme, lower-case host, port only when not the default), then a page may talk to
// us when its origin is listed, or when it is the request's own host:port (the Host header, or
// X-Forwarded-Host behind a trusted proxy).
import type { FastifyRequest } from 'fastify'

/** `https://host[:port]` as a browser sends it in `Origin`, or null for anything else. */
export function normalizeOrigin (s: string): string | null {
  let u: URL
  try { u = new URL(s) } catch { return null }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null
  if (u.username !== '' || u.password !== '' || u.search !== '' || u.hash !== '') return null
  // new URL() lower-cases the host and drops a default port, as browsers do; a bare "/" is allowed.
  if (u.pathname !== '/' && u.pathname !== '') return null
  return u.origin
}

/** Why a page at `origin` may not talk to a server reached as `host`, or null if it may. */
export function originRefusal (origin: string, host: string | undefined, allowed: ReadonlySet<string>): string | null {
  if (origin === 'null') return 'opaque or non-http Origin'
  let u: URL
  try { u = new URL(origin) } catch { return 'malformed Origin header' }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return 'opaque or non-http Origin'
  if (allowed.has(u.origin)) return null
  if (host === undefined || host === '') return 'cross-origin request without a Host header'
  let own: string
  // Parsed with the Origin's scheme, so a default port is dropped on both sides alike.
  try { own = new URL(`${u.protocol}//${host}`).host } catch { return 'malformed Host header' }
  if (own === u.host) return null
  return allowed.size > 0
    ? 'Origin not in the allow-list'
    : 'cross-origin page and no allow-list (only same-host pages may)'
}

export type OriginCheck = (req: FastifyRequest) => string | null

/**
 * The check for HTTP routes the browser posts to with cookies. A request without Origin is not a
 * browser's post (a script, curl, a server): allowed, since such a client could send any Origin it
 * liked; unless Sec-Fetch-Site says a browser sent it from another site, which only a browser too
 * old to send Origin would do. Returns null when allowed, else the reason.
 */
export function makeOriginCheck (allowed: ReadonlySet<string>): OriginCheck {
  return (req) => {
    const origin = req.headers.origin
    if (origin === undefined) {
      const site = req.headers['sec-fetch-site']
      if (site === undefined || site === 'same-origin' || site === 'none') return null
      return `a ${String(site)} request without an Origin header is not allowed`
    }
    const refused = originRefusal(origin, req.host, allowed)
    return refused === null ? null : `origin ${origin.slice(0, 200)} is not allowed: ${refused}`
  }
}
