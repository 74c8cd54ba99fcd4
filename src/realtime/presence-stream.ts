// The presence stream: Active now, live. A viewer with an all-users grant that asks for it in its
// first message (`{"token":"…","stream":"presence"}`) gets the presence of every user seen in the
// last GONE_MS, then one message per change — never their entries. One per process, however many
// such viewers: it follows the all-users stream once, starts from what Redis holds (the same read
// as GET /api/active), and the shared presence rule decides; the clock alone moves a quiet user
// from active to away to gone (presence-tracker.ts). After a Redis outage it reads Redis again.
//
//   {"type":"presence","snapshot":true,"users":[{"user":"alice","state":"active","since":…,"page":"/cart"}]}
//   {"type":"presence","users":[{"user":"alice","state":"away","since":…,"page":"/cart"}]}
import { presence } from '../shared/view-rules.js'
import { newestEntries, usersSeenSince } from '../shared/recent-users.js'
import { PresenceTracker, type PresenceChange } from './presence-tracker.js'
import type { Hub } from './hub.js'
import type { WsViewer } from './ws-viewer.js'

/** Users read from Redis when the stream starts: the most recently seen first. */
export const SEED_USERS = 1000

export class PresenceStream {
  private tracker: PresenceTracker | null = null
  private watcher: { close: () => void } | null = null
  private seeded: Promise<void> = Promise.resolve()
  /** Viewers that have had their snapshot, and get every change from then on. */
  private readonly ready = new Set<WsViewer>()
  private readonly members = new Set<WsViewer>()

  constructor (private readonly hub: Hub) {}

  get size (): number { return this.members.size }

  add (viewer: WsViewer): void {
    this.members.add(viewer)
    if (this.tracker === null) this.start()
    this.seeded.then(() => {
      if (!this.members.has(viewer) || this.tracker === null) return
      viewer.presence(this.tracker.snapshot(), true)
      this.ready.add(viewer)
    }, () => {})
  }

  remove (viewer: WsViewer): void {
    this.members.delete(viewer)
    this.ready.delete(viewer)
    if (this.members.size === 0) this.stop()
  }

  private start (): void {
    const tracker = new PresenceTracker((change) => this.broadcast(change))
    this.tracker = tracker
    // Subscribed first, then Redis read: an entry written in between is seen by one or the other.
    this.watcher = this.hub.watch(null, {
      entries: (entries) => tracker.observe(entries),
      // Entries written during an outage never reach the all-users channel: the logs have them,
      // so they are read again once Redis is back, and what changed meanwhile is sent as changes.
      status: (up) => {
        for (const v of this.members) v.status(up)
        if (!up || this.tracker !== tracker) return
        this.seeded = this.seeded.then(async () => { await this.seed(tracker) }).catch(this.seedFailed)
      }
    })
    this.seeded = this.seed(tracker).catch(this.seedFailed)
  }

  private readonly seedFailed = (err: unknown): void => {
    this.hub.log.warn({ err }, 'userlog realtime: could not read recent users for presence; following new events only')
  }

  private async seed (tracker: PresenceTracker): Promise<void> {
    const { cmd, keys } = this.hub
    const users = await usersSeenSince(cmd, keys, Date.now() - presence.GONE_MS, SEED_USERS)
    const logs = await newestEntries(cmd, keys, users.map((u) => u.user))
    // Oldest first, as the tracker wants them; changes found here are in the snapshot, not broadcast.
    if (this.tracker !== tracker) return // stopped meanwhile
    for (const log of logs) tracker.observe(log.slice().reverse())
  }

  private broadcast (change: PresenceChange): void {
    for (const v of this.ready) v.presence([change], false)
  }

  private stop (): void {
    this.watcher?.close()
    this.watcher = null
    this.tracker?.close()
    this.tracker = null
    this.seeded = Promise.resolve()
  }
}
