// What the plugin's parts share: validated settings, key names, the Redis client and store,
// the writer every entry goes through, and the audit trail.
import type { Settings } from './options.js'
import type { RedisLike } from './types.js'
import type { Keys } from './shared/keys.js'
import type { Store } from './admin/store.js'
import type { BatchWriter } from './write/writer.js'
import type { AuditLog } from './admin/audit.js'

export interface PluginContext {
  settings: Settings
  keys: Keys
  client: RedisLike
  store: Store
  writer: BatchWriter
  audit: AuditLog
}
