// The browser session cookie. Only POST /events sets it (Path = routePrefix, HttpOnly,
// SameSite=Lax, Secure on https, Max-Age = the inactivity limit, renewed on every accepted post).
//
// Value: `<sid>.<start>.<last>.<owner>`
//   sid    128 random bits, base64url (22 characters)
//   start  when the session started, ms since the epoch, base 36
//   last   the previous accepted post, ms, base 36 (the server's own inactivity check)
//   owner  8 characters of SHA-256(user) ('-' for an anonymous visitor): a session belongs to one
//          user, so logging in, out or as someone else starts a new one
// The value is not signed: a browser that edits its own cookie only mislabels its own activity,
// and every number read back is bounded.
import { createHash, randomBytes } from 'node:crypto'

export const COOKIE_NAME = 'userlog_sid'
/** A session ends after this long without an event. */
export const INACTIVITY_MS = 30 * 60_000
const SID = /^[A-Za-z0-9_-]{22}$/
const STAMP = /^[0-9a-z]{1,10}$/

export interface Session {
  sid: string
  start: number
  /** True when this post started the session. */
  fresh: boolean
}

export function newSid (): string {
  return randomBytes(16).toString('base64url')
}

export function ownerTag (user: string | undefined): string {
  if (user === undefined) return '-'
  return createHash('sha256').update(user).digest('base64url').slice(0, 8)
}

/** The raw value of our cookie in a Cookie header, without depending on how the host parses cookies. */
export function readCookie (header: string | undefined): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq !== -1 && part.slice(0, eq).trim() === COOKIE_NAME) return part.slice(eq + 1).trim()
  }
  return undefined
}

/**
 * The session a post belongs to: the cookie's, if it is well formed, belongs to this user and
 * is not older than the inactivity limit; otherwise a new one starting now.
 */
export function resolveSession (cookie: string | undefined, user: string | undefined, now: number): Session {
  if (cookie !== undefined) {
    const [sid, start36, last36, owner, extra] = cookie.split('.')
    if (extra === undefined && sid !== undefined && SID.test(sid) && start36 !== undefined && STAMP.test(start36) &&
        last36 !== undefined && STAMP.test(last36) && owner === ownerTag(user)) {
      const start = parseInt(start36, 36)
      const last = parseInt(last36, 36)
      // Clocks of several app instances may differ a little: allow a minute of skew.
      if (start <= last && last <= now + 60_000 && now - last <= INACTIVITY_MS) {
        return { sid, start: Math.min(start, now), fresh: false }
      }
    }
  }
  return { sid: newSid(), start: now, fresh: true }
}

export function cookieValue (session: Session, user: string | undefined, now: number): string {
  return `${session.sid}.${session.start.toString(36)}.${now.toString(36)}.${ownerTag(user)}`
}
