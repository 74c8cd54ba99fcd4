// Live-view grants: the admin API mints one per watch (a random token stored with a short TTL),
// and the realtime server takes it once (GETDEL). Both sides read and write it through here.
import { randomBytes } from 'node:crypto'

/** How long a grant is valid, in seconds. */
export const GRANT_TTL_S = 30

/** A live-view grant as stored under its token's key. */
export interface Grant {
  /** The user to stream, or '*' for all users. */
  user: string
  /** Who asked for it, as the host's getUser named them. */
  admin: string | null
}

/** A new token: 144 random bits, URL-safe. */
export function newToken (): string {
  return randomBytes(18).toString('base64url')
}

export function serializeGrant (grant: Grant): string {
  return JSON.stringify({ user: grant.user, admin: grant.admin })
}

/** The grant stored as `raw`, or null for anything malformed. Never throws. */
export function parseGrant (raw: string): Grant | null {
  let v: unknown
  try { v = JSON.parse(raw) } catch { return null }
  if (typeof v !== 'object' || v === null) return null
  const { user, admin } = v as { user?: unknown, admin?: unknown }
  if (typeof user !== 'string' || user.length === 0) return null
  return { user, admin: typeof admin === 'string' ? admin : null }
}
