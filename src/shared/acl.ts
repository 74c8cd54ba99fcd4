// The smallest Redis ACL rules each part needs, under a key prefix: keys and channels under the
// prefix only, and only the commands it runs (with those its scripts run). docs/production.md shows
// them, and the ACL test runs everything under them with Redis's ACL LOG empty.

/** The plugin: the write script and the report/rate-limit scripts, the admin API's reads and erasure. */
export function PLUGIN_ACL (prefix: string): string {
  return [
    'resetkeys', `~${prefix}:*`, 'resetchannels', `&${prefix}:live:*`, '-@all',
    '+@connection', '+info', '+evalsha', '+eval', '+multi', '+exec', '+exists', '+scan', '+del',
    '+get', '+set', '+mget', '+incr', '+pexpire', '+pttl', '+expire',
    '+lpush', '+ltrim', '+lrange',
    '+zadd', '+zrem', '+zrange', '+zrangebyscore', '+zrevrange', '+zrevrangebyscore', '+zrangebylex', '+zmscore',
    '+zcard',
    '+hset', '+hsetnx', '+hget', '+hmget', '+hgetall', '+hexists', '+hlen', '+hdel', '+hincrby',
    '+pfadd', '+pfcount', '+publish', '+spublish'
  ].join(' ')
}

/** The realtime server: take grants, read logs, hold watch leases, subscribe to live channels. */
export function REALTIME_ACL (prefix: string): string {
  return [
    'resetkeys', `%R~${prefix}:*`, `~${prefix}:{tok}:*`, `%W~${prefix}:watch:*`,
    'resetchannels', `&${prefix}:live:*`, '-@all',
    '+@connection', '+info', '+getdel', '+lrange', '+set',
    '+subscribe', '+unsubscribe', '+ssubscribe', '+sunsubscribe'
  ].join(' ')
}
