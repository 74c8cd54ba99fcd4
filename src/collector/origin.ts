// Who may post events. Browsers send `Origin` on every POST (fetch and sendBeacon alike, same
// origin included), so a foreign page cannot make a visitor's browser write into their log:
//   - an Origin equal to the request's own host:port (the Host header, or X-Forwarded-Host when
//     the host app trusts its proxy) is allowed; so is one listed in `allowedOrigins`;
//   - any other Origin, including "null" (sandboxed frames, file: pages), is refused with 403;
//   - no Origin at all is not a browser's post (a script, curl, a server): it is allowed, since
//     such a client could send any Origin it liked; unless Sec-Fetch-Site says a browser sent it
//     from another site, which only a browser too old to send Origin would do.
import type { FastifyRequest } from 'fastify'

export type OriginCheck = (req: FastifyRequest) => string | null

function sameHost (origin: URL, host: string): boolean {
  try {
    // Parsed with the Origin's scheme, so a default port is dropped on both sides alike.
    return new URL(`${origin.protocol}//${host}`).host === origin.host
  } catch {
    return false
  }
}

/** Returns null when the request may post, else the reason it may not. */
export function makeOriginCheck (allowedOrigins: readonly string[] | null): OriginCheck {
  const allowed = new Set(allowedOrigins ?? [])
  return (req) => {
    const origin = req.headers.origin
    if (origin === undefined) {
      const site = req.headers['sec-fetch-site']
      if (site === undefined || site === 'same-origin' || site === 'none') return null
      return `a ${String(site)} request without an Origin header may not post events`
    }
    if (allowed.has(origin)) return null
    let url: URL
    try {
      url = new URL(origin)
    } catch {
      return 'the Origin header is not a valid origin'
    }
    if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin === origin && sameHost(url, req.host)) return null
    return `events from origin ${origin.slice(0, 200)} are not allowed`
  }
}
