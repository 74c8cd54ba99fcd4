// Who looked at whose data: every view of a log, live-view grant, export and erasure is kept
// in a capped Redis list (newest first) and logged with pino.
import type { FastifyRequest } from 'fastify'
import type { Keys } from '../shared/keys.js'
import type { RedisLike } from '../types.js'
import type { Settings } from '../options.js'

export type AuditAction = 'view' | 'watch' | 'export' | 'erase'

export interface AuditEntry {
  t: number
  admin: string | null
  action: AuditAction
  target: string
  /** Why the admin watched: the page asks for it when its setting says so. */
  reason?: string
  /** A watch of the presence stream rather than the entries. */
  stream?: 'presence'
}

/** What a record may add to who, what and whom. */
export type AuditDetail = Pick<AuditEntry, 'reason' | 'stream'>

/** Audit entries kept (the oldest are trimmed). */
export const AUDIT_CAP = 1000
/**
 * The same admin viewing the same user again within this long is one audit row, not several (the
 * page reads a log and its sessions together).
 */
export const VIEW_COALESCE_MS = 5000

export class AuditLog {
  private readonly recentViews = new Map<string, number>()

  constructor (private readonly client: RedisLike, private readonly keys: Keys, private readonly settings: Settings) {}

  /** The admin making the request, as the host's getUser names them. */
  adminName (req: FastifyRequest): string | null {
    try {
      const name = this.settings.getUser(req)
      return typeof name === 'string' && name !== '' ? name : null
    } catch {
      return null
    }
  }

  async record (req: FastifyRequest, action: AuditAction, target: string, detail: AuditDetail = {}): Promise<void> {
    const entry: AuditEntry = { t: Date.now(), admin: this.adminName(req), action, target, ...detail }
    if (action === 'view' && this.seenRecently(entry)) return
    // User-controlled names go under our own key, never spread into the log bindings.
    req.log.info({ userlog: { audit: entry } }, `fastify-userlog: audit ${action}`)
    await this.client.multi()
      .lpush(this.keys.audit, JSON.stringify(entry))
      .ltrim(this.keys.audit, 0, AUDIT_CAP - 1)
      .exec()
  }

  private seenRecently (entry: AuditEntry): boolean {
    const key = JSON.stringify([entry.admin, entry.target])
    const last = this.recentViews.get(key)
    if (last !== undefined && entry.t - last < VIEW_COALESCE_MS) return true
    if (this.recentViews.size >= 1000) this.recentViews.clear()
    this.recentViews.set(key, entry.t)
    return false
  }

  async list (limit: number): Promise<string[]> {
    return await this.client.lrange(this.keys.audit, 0, limit - 1)
  }
}
