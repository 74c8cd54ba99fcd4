// What the plugin's parts share: validated settings, key names, the Redis client and store,
// the writer every entry goes through, and the audit trail.
import type { Settings, RedisLike } from './options.js'
import type { Keys } from './keys.js'
import type { Store } from './store.js'
import type { BatchWriter } from './writer.js'
import type { AuditLog } from './audit.js'

export interface PluginContext {
  settings: Settings
  keys: Keys
  client: RedisLike
  store: Store
  writer: BatchWriter
  audit: AuditLog
}
