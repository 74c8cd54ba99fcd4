// Whether a user is on the page right now, from the events their browser sent: the one presence
// rule of the admin page (a user's badge, Active now), the realtime server's presence stream,
// `GET /api/active` and `userlog tail`. Plain JavaScript with no imports, so the browser and the
// server load the same file.
//
//   active  a page view, heartbeat or interaction in the last ACTIVE_MS (two heartbeats at the
//           tracker's default 15 s: it sends them only while the page is visible and focused)
//   away    the tab was hidden (a `visibility` event), or nothing for ACTIVE_MS to GONE_MS
//   gone    the page was left (`session_end`) and nothing followed within LEAVE_GRACE_MS (moving
//           to the next page of a site sends a leave and, a moment later, a page view), or
//           nothing for GONE_MS
// Only client events count (`src: "client"`): a server request alone says nothing about the tab.

export const ACTIVE_MS = 30_000
export const GONE_MS = 5 * 60_000
export const LEAVE_GRACE_MS = 5_000
export const STATES = Object.freeze(['active', 'away', 'gone'])

const ACTIVITY = new Set(['pageview', 'heartbeat', 'interaction'])

/**
 * What is remembered of a user's latest client events; build it with `observe`.
 * @typedef {{ page: string | null, lastT: number, activeT: number | null, activeSince: number,
 *   hiddenAt: number | null, leftAt: number | null }} Track
 * @typedef {{ state: 'active' | 'away' | 'gone', since: number, page: string | null }} Presence
 */

/**
 * The track after one more entry (entries older than the latest one seen are ignored, so feed
 * them oldest first). Returns the same track when the entry says nothing about presence.
 * @param {Track | null} track
 * @param {Record<string, unknown>} e
 * @returns {Track | null}
 */
export function observe (track, e) {
  const t = e.t
  if (e.src !== 'client' || typeof t !== 'number' || !Number.isFinite(t)) return track
  if (track !== null && t < track.lastT) return track
  /** @type {Track} */
  const next = track === null
    ? { page: null, lastT: t, activeT: null, activeSince: t, hiddenAt: null, leftAt: null }
    : { ...track, lastT: t }
  if (typeof e.path === 'string') next.page = e.path
  if (e.kind === 'session_end') {
    next.leftAt = t
  } else if (e.kind === 'visibility') {
    if (e.state === 'hidden') next.hiddenAt ??= t
    else next.hiddenAt = null
    next.leftAt = null
  } else if (typeof e.kind === 'string' && ACTIVITY.has(e.kind)) {
    if (track === null || presenceAt(track, t).state !== 'active') next.activeSince = t
    next.activeT = t
    next.hiddenAt = null
    next.leftAt = null
  }
  return next
}

/**
 * The presence a track means at time `now` (ms, the server's clock as entries' `t` are).
 * @param {Track} track
 * @param {number} now
 * @returns {Presence}
 */
export function presenceAt (track, now) {
  const page = track.page
  if (track.leftAt !== null && now - track.leftAt >= LEAVE_GRACE_MS) return { state: 'gone', since: track.leftAt, page }
  if (now - track.lastT >= GONE_MS) return { state: 'gone', since: track.lastT + GONE_MS, page }
  if (track.hiddenAt !== null) return { state: 'away', since: track.hiddenAt, page }
  if (track.activeT !== null && now - track.activeT < ACTIVE_MS) {
    return { state: 'active', since: track.activeSince, page }
  }
  const quietFrom = track.activeT ?? track.lastT
  return { state: 'away', since: Math.min(quietFrom + ACTIVE_MS, now), page }
}

/**
 * When the presence of a track changes next if no event arrives (ms), or null if never (gone):
 * lets a server re-check a user once, at the right time, instead of polling everyone.
 * @param {Track} track
 * @param {number} now
 * @returns {number | null}
 */
export function nextChangeAt (track, now) {
  const state = presenceAt(track, now).state
  if (state === 'gone') return null
  const times = [track.lastT + GONE_MS]
  if (track.leftAt !== null) times.push(track.leftAt + LEAVE_GRACE_MS)
  if (state === 'active' && track.activeT !== null) times.push(track.activeT + ACTIVE_MS)
  return Math.min(...times)
}

/**
 * The presence of a user from entries newest first (as a log is stored), or null when none of
 * them is a client event.
 * @param {Array<Record<string, unknown>>} newestFirst
 * @param {number} now
 * @returns {Presence | null}
 */
export function presenceOfLog (newestFirst, now) {
  /** @type {Track | null} */
  let track = null
  for (let i = newestFirst.length - 1; i >= 0; i--) {
    track = observe(track, /** @type {Record<string, unknown>} */ (newestFirst[i]))
  }
  return track === null ? null : presenceAt(track, now)
}
