// What a writer remembers about the users it wrote recently, so that a batch can skip the
// bookkeeping Redis already has: the user's encoded name (the hash tag the script builds the
// user's key names from; encoded once per user, not per batch), and when
// this process last refreshed the log's expiry, the users index (last seen, one-second
// precision) and the names index. Bounded: past `max` users the oldest are forgotten. Losing it
// (a restart, another process writing the same users) is safe: the script then does the work
// again, and it also does it whenever a log turns out to be new (see script.ts).
import calculateSlot from 'cluster-key-slot'
import { encodeUser, type Keys } from '../shared/keys.js'

/** What a batch must write for a user besides the entries (the `due` bits of the script). */
export const DUE_EXPIRE = 1
export const DUE_SEEN = 2
export const DUE_NAMED = 4
/** Not bookkeeping: set by the batch when a last path follows the user's tag (script.ts). */
export const DUE_PATH = 8

/** The users index is "last seen": refreshed at most once a second per user. */
const SEEN_EVERY_MS = 1000
/** A name is re-added to the names index at most once a minute (it only changes when pruned). */
const NAMED_EVERY_MS = 60_000

export interface UserMemo {
  readonly user: string
  /** The user's name as it appears in their keys and channels: `P:{<tag>}:log` (encodeUser). */
  readonly tag: string
  /** The hash slot of the user's keys (computed on first use: only a cluster needs it). */
  slot: number
  expiredAt: number
  seenAt: number
  namedAt: number
  /** The last path this process wrote to the last-path hash. */
  lastPath: string
  // The user's share of the batch being built (`batch` says which), kept here rather than in
  // objects made per user and batch: a batch of a thousand users would make a thousand.
  batch: number
  /** Their entries in the batch, and where those start in the batch's order by user (batch.ts). */
  count: number
  at: number
  /** The batch's last page of the user ('' for none). */
  pagePath: string
  /** What the batch does for them (DUE_* bits), and the last path it sends (null: none). */
  due: number
  sendPath: string | null
}

export class UserMemory {
  private readonly memos = new Map<string, UserMemo>()

  /**
   * @param expireEveryMs how often a log's EXPIRE is refreshed (0: every batch); the script sets
   *   the TTL to `ttl` plus this interval, so a log still lives at least `ttl` after its last entry.
   */
  constructor (private readonly keys: Keys, private readonly expireEveryMs: number, private readonly max = 50_000) {}

  get size (): number { return this.memos.size }

  get (user: string): UserMemo {
    let memo = this.memos.get(user)
    if (memo === undefined) {
      if (this.memos.size >= this.max) this.forgetOldest()
      memo = {
        user, tag: encodeUser(user), slot: -1, expiredAt: -Infinity, seenAt: -Infinity, namedAt: -Infinity,
        lastPath: '', batch: 0, count: 0, at: 0, pagePath: '', due: 0, sendPath: null
      }
      this.memos.set(user, memo)
    }
    return memo
  }

  slotOf (memo: UserMemo): number {
    if (memo.slot === -1) memo.slot = calculateSlot(this.keys.log(memo.user))
    return memo.slot
  }

  /** Decides what the batch being built does for the user at `now` (memo.due, memo.sendPath). */
  due (memo: UserMemo, now: number): number {
    let due = 0
    if (now - memo.expiredAt >= this.expireEveryMs) due |= DUE_EXPIRE
    if (now - memo.seenAt >= SEEN_EVERY_MS) due |= DUE_SEEN
    if (now - memo.namedAt >= NAMED_EVERY_MS) due |= DUE_NAMED
    // A path is resent with the users index too, in case the hash lost it (pruned, erased).
    const path = memo.pagePath
    memo.sendPath = path !== '' && (path !== memo.lastPath || (due & DUE_SEEN) !== 0) ? path : null
    memo.due = due
    return due
  }

  /** The batch of these users was written at `now`: remember what it did for them. */
  written (users: UserMemo[], now: number): void {
    for (const memo of users) {
      const due = memo.due
      if ((due & DUE_EXPIRE) !== 0) memo.expiredAt = now
      if ((due & DUE_SEEN) !== 0) memo.seenAt = now
      if ((due & DUE_NAMED) !== 0) memo.namedAt = now
      if (memo.sendPath !== null) memo.lastPath = memo.sendPath
    }
  }

  /** Forgets everything (after erasing a user, say): the next batches do all the bookkeeping again. */
  clear (): void { this.memos.clear() }

  private forgetOldest (): void {
    // Maps iterate in insertion order: drop the first tenth in one go rather than one per insert.
    let n = Math.ceil(this.max / 10)
    for (const user of this.memos.keys()) {
      this.memos.delete(user)
      if (--n === 0) break
    }
  }
}
