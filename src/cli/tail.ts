// `userlog tail`: a terminal live view straight from Redis. It uses the realtime server's hub in
// this process, so it follows the same rules: SUBSCRIBE first, then read the log, merge by entry id,
// resubscribe and catch up after an outage.
import { Hub, type HubLogger } from '../realtime/hub.js'
import type { LiveEntry } from '../realtime/entries.js'
import type { TailCommand } from './args.js'
import { readFileSync } from 'node:fs'
import type { ConnectionOptions } from 'node:tls'
import { redactRedis } from '../shared/redis.js'
import { filters } from '../shared/view-rules.js'
import { PresenceTracker, type PresenceChange } from '../realtime/presence-tracker.js'

/** The TLS settings of `--tls-ca FILE`: the CA it holds, or undefined without the flag. */
export function tlsOf (file: string | null, command: 'realtime' | 'tail'): ConnectionOptions | undefined {
  if (file === null) return undefined
  try {
    return { ca: readFileSync(file) }
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? String(err)
    throw new Error(`userlog ${command}: --tls-ca: cannot read ${file} (${why})`, { cause: err })
  }
}

export interface Output {
  out: (line: string) => void
  err: (line: string) => void
}

// C0 and C1 control characters, DEL, and the bidirectional overrides and isolates: text from a
// log entry must not move the cursor, change colours or reorder what the terminal shows.
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g

/** Makes untrusted text safe to print on a terminal: control characters become \u escapes. */
export function safeText (value: unknown, max = 2048): string {
  if (value === undefined || value === null || value === '') return '-'
  let s = typeof value === 'string'
    ? value
    : typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value)
  if (s.length > max) s = s.slice(0, max) + '…'
  return s.replace(UNSAFE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

function time (t: unknown): string {
  if (typeof t !== 'number' || !Number.isFinite(t)) return '-'
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? '-' : d.toISOString()
}

/** One line per entry: time, user, kind, method, status, path, ms. Every field is untrusted. */
export function formatEntry (e: LiveEntry): string {
  const ms = typeof e.ms === 'number' && Number.isFinite(e.ms) ? `${e.ms}ms` : '-'
  return [
    time(e.t), safeText(e.user, 200), safeText(e.kind, 40), safeText(e.method, 20), safeText(e.status, 10),
    safeText(e.path), ms
  ].join('  ')
}

/** One line per presence change: the time it changed, user, "presence", state, page. */
export function formatPresence (p: PresenceChange, json: boolean): string {
  if (json) return formatJson({ type: 'presence', user: p.user, state: p.state, since: p.since, page: p.page })
  return [time(p.since), safeText(p.user, 200), 'presence', p.state, safeText(p.page)].join('  ')
}

/**
 * The same entry as one JSON line; JSON escapes C0 controls, the rest of UNSAFE is escaped here
 * (only strings can hold them).
 */
export function formatJson (e: Record<string, unknown>): string {
  return JSON.stringify(e).replace(UNSAFE, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

export interface Tail {
  hub: Hub
  close: () => Promise<void>
}

/** Starts following; lines go to `io.out`, notices to `io.err`. Resolves once it is watching. */
export async function startTail (cmd: TailCommand, io: Output): Promise<Tail> {
  const quiet: HubLogger = {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: (obj, msg) => io.err(`userlog tail: ${msg ?? 'error'}${obj instanceof Error ? `: ${obj.message}` : ''}`)
  }
  const hub = new Hub({ redis: cmd.redis, prefix: cmd.prefix, log: quiet, tls: tlsOf(cmd.tlsCa, 'tail') })
  const presence = new PresenceTracker((p) => io.out(formatPresence(p, cmd.json)))
  const shown = filters.isEmpty(cmd.filter) ? () => true : (e: LiveEntry) => filters.matches(cmd.filter, e)
  const print = (entries: LiveEntry[]): void => {
    for (const e of entries) if (shown(e)) io.out(cmd.json ? formatJson(e) : formatEntry(e))
    presence.observe(entries)
  }
  if (!await hub.ready(2000)) {
    const reason = hub.lastErrorMessage
    io.err(`userlog tail: waiting for Redis at ${redactUrl(cmd.redis)}${reason !== null ? ` (${reason})` : ''}…`)
  }
  const watcher = hub.watch(cmd.user, {
    backlog: print,
    entries: print,
    status: (up) => io.err(up
      ? 'userlog tail: Redis is back; catching up'
      : 'userlog tail: Redis is unreachable; waiting…'),
    dropped: (n) => io.err(`userlog tail: ${n} entries skipped`)
  })
  return {
    hub,
    close: async () => {
      presence.close()
      watcher.close()
      await hub.close()
    }
  }
}

/** A Redis URL (or a cluster's seed list) without its password, for messages. */
export function redactUrl (url: string): string {
  return redactRedis(url)
}
