// A viewer is one consumer of one live stream: a WebSocket of the admin page, or an in-process
// callback (`userlog tail`, apps using the hub directly). The hub decides what a viewer gets and
// when; the viewer only knows how to hand it over.
import { RecentIds, type LiveEntry } from './entries.js'

/** One live message of a channel, serialized once for every viewer of that channel. */
export interface LiveFrame {
  entries: LiveEntry[]
  /** `{"type":"entries","entries":[…]}` as UTF-8, built lazily on first use. */
  data: () => Buffer
}

/** How many recent entry ids each viewer remembers for de-duplication after a resync. */
export const RECENT_IDS = 256
/** Live entries held for a viewer while its backlog is read; beyond it the oldest are dropped and counted. */
export const MAX_PENDING = 10_000

export abstract class Viewer {
  /** `syncing` while its backlog is read (live entries wait in `pending`), then `live`. */
  state: 'syncing' | 'live' | 'closed' = 'syncing'
  pending: LiveEntry[] = []
  pendingDropped = 0
  /** The hub's message number when it turned live: later messages are new to it, earlier were in its sync. */
  liveFrom = 0
  readonly seen = new RecentIds(RECENT_IDS)

  /** @param user the user watched, or null for the all-users stream */
  constructor (readonly user: string | null) {}

  abstract get open (): boolean
  /** The log before the viewer joined, oldest first (empty for the all-users stream). */
  abstract backlog (entries: LiveEntry[]): void
  /** Entries built for this viewer alone (the tail of a backlog read, a resync). */
  abstract entries (entries: LiveEntry[]): void
  /** A live message shared by every viewer of the channel. */
  abstract live (frame: LiveFrame): void
  /** Redis went away (`false`) or came back (`true`). */
  abstract status (up: boolean): void
  /** Entries skipped for this viewer (it was too slow, or too much arrived while it was syncing). */
  abstract dropped (count: number): void
}

export interface ViewerCallbacks {
  backlog?: (entries: LiveEntry[]) => void
  entries?: (entries: LiveEntry[]) => void
  status?: (up: boolean) => void
  dropped?: (count: number) => void
}

/** A viewer in the same process: every message becomes a callback (entries oldest first). */
export class CallbackViewer extends Viewer {
  private closed = false

  constructor (user: string | null, private readonly cb: ViewerCallbacks) {
    super(user)
  }

  get open (): boolean { return !this.closed }
  close (): void { this.closed = true }
  backlog (entries: LiveEntry[]): void { this.cb.backlog?.(entries) }
  entries (entries: LiveEntry[]): void { if (entries.length > 0) this.cb.entries?.(entries) }
  live (frame: LiveFrame): void { this.cb.entries?.(frame.entries) }
  status (up: boolean): void { this.cb.status?.(up) }
  dropped (count: number): void { this.cb.dropped?.(count) }
}
