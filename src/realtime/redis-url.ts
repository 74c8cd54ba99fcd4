// The `redis` setting of the realtime server and `userlog tail`: one redis:// URL (a single node) or
// two or more comma-separated URLs, the seed nodes of a Redis Cluster
// (`redis://10.0.0.1:7000,redis://10.0.0.2:7000`) — the same form as the plugin's `redis` option.
import { Cluster } from 'ioredis'
import { parseSeeds, type ClusterSeeds } from '../cluster.js'

// The seed-list form is parsed by the same function as the plugin's `redis` option.
export { parseSeeds, type ClusterSeeds } from '../cluster.js'

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
