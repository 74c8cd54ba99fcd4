// Public entry point of the package.
import { userlog } from './plugin.js'

export { userlog }
export default userlog
export type { UserlogDecorator } from './plugin.js'
export type { UserlogOptions, RedisLike } from './options.js'
export type { Entry, EntryKind } from './entry.js'
export type { WriterStats } from './writer.js'
export { encodeUser, decodeUser, Keys } from './keys.js'
export { userlogRealtime } from './realtime/index.js'
export type { RealtimeOptions, RealtimeDecorator } from './realtime/index.js'
