// `fastify-userlog/realtime`: the realtime server as a Fastify plugin, its public types, and the
// hub behind it (for an app that watches logs in process). A host that only logs requests imports
// `fastify-userlog` and never loads this, nor `ws` or `@fastify/websocket`.
export { userlogRealtime, readToken, readFirstMessage, type FirstMessage } from './plugin.js'
/** Whether a browser page at an origin may connect: null if it may, else the reason (listed, or same host). */
export { originRefusal as checkOrigin } from '../shared/origin.js'
export type { RealtimeOptions, RealtimeDecorator, RealtimeStats, ViewerInfo } from './types.js'
export { validateRealtimeOptions } from './options.js'
export type { RealtimeSettings } from './options.js'
export { Hub } from './hub.js'
export type { HubOptions, HubLogger, HubStats, HubCounters } from './hub.js'
export type { Grant } from '../shared/grants.js'
export { Viewer, CallbackViewer } from './viewer.js'
export type { ViewerCallbacks, LiveFrame } from './viewer.js'
export { mergeSnapshot, parseList, parseMessage, RecentIds } from './entries.js'
export type { LiveEntry } from './entries.js'
export { CLOSE } from './ws-viewer.js'
export { OptionError, UnknownOptionError, AlreadyRegisteredError } from '../shared/errors.js'
export { userlogRealtime as default } from './plugin.js'
