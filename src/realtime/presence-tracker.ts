// Presence changes of many users as their entries stream by: the presence rule (shared with the
// admin page) applied per user, and a change reported once when a user's state moves — on an
// event, or by the clock alone (quiet for two heartbeats, five minutes, a leave with nothing
// after it). One timer for every user, armed for the earliest change due, so an idle stream costs
// nothing. Used by `userlog tail` and the realtime server's presence stream.
import { presence, type Presence, type Track } from '../shared/view-rules.js'

export interface PresenceChange extends Presence { user: string }

/**
 * Users followed at most; past it the one seen longest ago is forgotten (a forgotten user comes
 * back with their next event).
 */
export const MAX_TRACKED = 10_000

interface Tracked { track: Track, shown: Presence | null }

export class PresenceTracker {
  private readonly users = new Map<string, Tracked>()
  private timer: NodeJS.Timeout | null = null
  private timerAt = Infinity

  constructor (
    private readonly onChange: (change: PresenceChange) => void,
    private readonly now: () => number = Date.now,
    private readonly maxTracked = MAX_TRACKED
  ) {}

  /** Feeds entries of any users, oldest first; reports the users whose presence changed. */
  observe (entries: Iterable<Record<string, unknown>>): void {
    const touched = new Set<string>()
    for (const e of entries) {
      if (typeof e.user !== 'string' || e.src !== 'client') continue
      const known = this.users.get(e.user)
      const track = presence.observe(known?.track ?? null, e)
      if (track === null || track === known?.track) continue
      // Re-inserted so that the Map's order is least recently seen first (what is evicted).
      this.users.delete(e.user)
      this.users.set(e.user, { track, shown: known?.shown ?? null })
      touched.add(e.user)
    }
    while (this.users.size > this.maxTracked) this.users.delete(this.users.keys().next().value as string)
    this.report(touched)
  }

  /** The presence of every followed user now. */
  snapshot (): PresenceChange[] {
    const now = this.now()
    return [...this.users].map(([user, u]) => ({ user, ...presence.presenceAt(u.track, now) }))
  }

  get size (): number { return this.users.size }

  close (): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.users.clear()
  }

  /** Reports the changes among `users` and arms the timer for their next one (all users when the timer fired). */
  private report (users: Iterable<string>, fired = false): void {
    const now = this.now()
    let next = fired ? Infinity : this.timerAt
    for (const user of users) {
      const u = this.users.get(user)
      if (u === undefined) continue
      const p = presence.presenceAt(u.track, now)
      if (u.shown === null || u.shown.state !== p.state || u.shown.page !== p.page) {
        u.shown = p
        this.onChange({ user, ...p })
      }
      // A gone user has nothing more to say until their next event.
      if (p.state === 'gone') {
        this.users.delete(user)
        continue
      }
      const at = presence.nextChangeAt(u.track, now)
      if (at !== null && at < next) next = at
    }
    this.arm(next, now)
  }

  /**
   * The one timer, for the earliest change due. A user whose change moved later (a heartbeat came)
   * may make it fire early: that pass finds nothing to report and arms it again.
   */
  private arm (next: number, now: number): void {
    if (next === this.timerAt && this.timer !== null) return
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    this.timerAt = next
    if (next === Infinity) return
    this.timer = setTimeout(() => {
      this.timer = null
      this.timerAt = Infinity
      this.report([...this.users.keys()], true)
    }, Math.max(0, next - now) + 1)
    this.timer.unref()
  }
}
