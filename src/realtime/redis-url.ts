// The `redis` setting of the realtime server and `userlog tail`: one redis:// URL (a single node) or
// two or more comma-separated URLs, the seed nodes of a Redis Cluster
// (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`) — the same form as the plugin's `redis` option.
import { Cluster } from 'ioredis'

export interface ClusterSeeds {
  nodes: Array<{ host: string, port: number }>
  tls: boolean
  username?: string
  password?: string
}

/**
 * Parses a cluster seed list. Returns null for a single URL (a comma only separates seeds where
 * the next `redis://` starts, so a comma in a password stays); throws an Error with the reason for
 * a malformed list: every seed has a host and an optional port (6379), no database but 0, one
 * scheme for all; credentials, if any, are those of the first.
 */
export function parseSeeds (value: string): ClusterSeeds | null {
  const parts = value.split(/,(?=\s*rediss?:\/\/)/).map((p) => p.trim())
  if (parts.length === 1) return null
  const nodes: ClusterSeeds['nodes'] = []
  let scheme: string | null = null
  let username: string | undefined
  let password: string | undefined
  for (const part of parts) {
    if (part.endsWith(',')) throw new Error('an empty seed in the list')
    if (!/^rediss?:\/\//.test(part) || !URL.canParse(part)) throw new Error(`${JSON.stringify(part)} is not a redis:// or rediss:// URL`)
    const url = new URL(part)
    if (url.hostname === '') throw new Error(`${JSON.stringify(part)} has no host`)
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') throw new Error(`${JSON.stringify(part)} names a database (a cluster has only database 0)`)
    if (url.search !== '' || url.hash !== '') throw new Error(`${JSON.stringify(part)} has a query or fragment`)
    if (scheme !== null && url.protocol !== scheme) throw new Error('seeds mix redis:// and rediss://')
    scheme = url.protocol
    if (nodes.length === 0) {
      if (url.username !== '') username = decodeURIComponent(url.username)
      if (url.password !== '') password = decodeURIComponent(url.password)
    }
    nodes.push({ host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port === '' ? 6379 : Number(url.port) })
  }
  return { nodes, tls: scheme === 'rediss:', username, password }
}

/** Why `value` is not a usable `redis` string, or null if it is. */
export function redisUrlProblem (value: string): string | null {
  if (!/^rediss?:\/\//.test(value)) return 'not a redis:// or rediss:// URL'
  let seeds: ClusterSeeds | null
  try { seeds = parseSeeds(value) } catch (err) { return (err as Error).message }
  if (seeds === null && !URL.canParse(value)) return 'not a redis:// or rediss:// URL'
  return null
}

/** The realtime server's command client on a cluster: fail fast, never queue, reconnect quickly. */
export function createCluster (seeds: ClusterSeeds): Cluster {
  return new Cluster(seeds.nodes, {
    enableOfflineQueue: false,
    // Logs are read from masters: a replica may lag behind the entries just published.
    scaleReads: 'master',
    clusterRetryStrategy: (times: number) => Math.min(100 * times, 1000),
    slotsRefreshTimeout: 2000,
    redisOptions: {
      connectionName: 'userlog-realtime',
      maxRetriesPerRequest: 0,
      connectTimeout: 5000,
      ...(seeds.username !== undefined ? { username: seeds.username } : {}),
      ...(seeds.password !== undefined ? { password: seeds.password } : {}),
      ...(seeds.tls ? { tls: {} } : {})
    }
  })
}

/** A Redis URL or seed list without passwords, for messages. */
export function redactRedis (value: string): string {
  return value.split(/,(?=\s*rediss?:\/\/)/).map((part) => {
    try {
      const u = new URL(part.trim())
      if (u.password !== '') u.password = '***'
      return u.toString()
    } catch {
      return 'the configured URL'
    }
  }).join(',')
}
