// `fastify-userlog`: the plugin, its public types and its errors. The realtime server is its own
// entry point, `fastify-userlog/realtime`, so that a host which only logs never loads it.
import { userlog } from './plugin.js'

export { userlog }
export default userlog
export type { UserlogOptions, UserlogDecorator, Entry, EntryKind, WriterStats, RedisLike } from './types.js'
export { OptionError, UnknownOptionError, AlreadyRegisteredError, NoUserError } from './shared/errors.js'
