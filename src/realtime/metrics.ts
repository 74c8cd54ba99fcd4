// Counters of the realtime server and their Prometheus text exposition (format 0.0.4).
import type { HubStats } from './hub.js'

/** Why a WebSocket connection was refused. */
export type RefusedReason = 'origin' | 'timeout' | 'invalid' | 'token' | 'redis'
/** Why a streaming viewer was closed by the server. */
export type ClosedReason = 'slow' | 'unresponsive'

export const REFUSED_REASONS: readonly RefusedReason[] = ['origin', 'timeout', 'invalid', 'token', 'redis']
export const CLOSED_REASONS: readonly ClosedReason[] = ['slow', 'unresponsive']

export class RealtimeMetrics {
  readonly refused: Record<RefusedReason, number> = { origin: 0, timeout: 0, invalid: 0, token: 0, redis: 0 }
  readonly closed: Record<ClosedReason, number> = { slow: 0, unresponsive: 0 }
  connections = 0

  render (hub: HubStats): string {
    const lines: string[] = []
    const metric = (name: string, type: 'gauge' | 'counter', help: string, values: Array<[string, number]>): void => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const [labels, v] of values) lines.push(`${name}${labels} ${v}`)
    }
    metric('userlog_realtime_connections', 'gauge', 'Open WebSocket connections, streaming or not yet authenticated.',
      [['', this.connections]])
    metric('userlog_realtime_viewers', 'gauge', 'Viewers currently streaming.', [['', hub.viewers]])
    metric('userlog_realtime_channels', 'gauge', 'Redis channels currently subscribed.', [['', hub.channels]])
    metric('userlog_realtime_entries_delivered_total', 'counter', 'Entries sent to viewers (once per viewer).',
      [['', hub.delivered]])
    metric('userlog_realtime_entries_dropped_total', 'counter', 'Entries skipped for viewers that could not keep up.',
      [['', hub.dropped]])
    metric('userlog_realtime_redis_up', 'gauge', '1 while the subscriber is connected, subscribed and answering PING.',
      [['', hub.redisUp ? 1 : 0]])
    metric('userlog_realtime_connections_refused_total', 'counter', 'WebSocket connections refused, by reason.',
      REFUSED_REASONS.map((r) => [`{reason="${r}"}`, this.refused[r]]))
    metric('userlog_realtime_viewers_closed_total', 'counter', 'Viewers closed by the server, by reason.',
      CLOSED_REASONS.map((r) => [`{reason="${r}"}`, this.closed[r]]))
    return lines.join('\n') + '\n'
  }
}
