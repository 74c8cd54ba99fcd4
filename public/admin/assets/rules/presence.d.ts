// Types of presence.js, for the server (TypeScript) side.
export declare const ACTIVE_MS: number
export declare const GONE_MS: number
export declare const LEAVE_GRACE_MS: number
export declare const STATES: readonly ['active', 'away', 'gone']
export type PresenceState = 'active' | 'away' | 'gone'
export interface Track {
  page: string | null
  lastT: number
  activeT: number | null
  activeSince: number
  hiddenAt: number | null
  leftAt: number | null
}
export interface Presence { state: PresenceState, since: number, page: string | null }
export declare function observe (track: Track | null, e: Record<string, unknown>): Track | null
export declare function presenceAt (track: Track, now: number): Presence
export declare function nextChangeAt (track: Track, now: number): number | null
export declare function presenceOfLog (newestFirst: Array<Record<string, unknown>>, now: number): Presence | null
