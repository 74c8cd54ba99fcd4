// A private redis-server for one benchmark run: a free port, no persistence, removed on stop.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis } from 'ioredis'
import { freePort } from '../../scripts/free-port.js'

export { freePort }

/** `redis-server --version`, e.g. "7.0.15", or null when it is not installed. */
export function redisServerVersion () {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' })
    return /v=([0-9.]+)/.exec(out)?.[1] ?? out.trim()
  } catch {
    return null
  }
}

/**
 * Starts redis-server on a free port; resolves once it answers PING. With `persistent`, it keeps an
 * append-only file fsynced on every write, so that `restart()` (SIGKILL, then a new redis-server on
 * the same port and directory) loses nothing Redis acknowledged; `pid` then names the new process.
 */
export async function startRedis ({ persistent = false, wrapper = [] } = {}) {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'userlog-bench-redis-'))
  const persistence = persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']
  const args = [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', ...persistence,
    '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning'
  ]
  let proc = await spawnUntilPing(args, port, wrapper)
  if (proc === null) {
    rmSync(dir, { recursive: true, force: true })
    throw new Error('redis-server did not start (is it installed? `make bench` installs it)')
  }
  const kill = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const exited = new Promise((resolve) => proc.once('exit', resolve))
      proc.kill('SIGKILL')
      await exited
    }
  }
  return {
    get pid () { return proc.pid },
    port,
    url: `redis://127.0.0.1:${port}`,
    client () {
      const c = new Redis({ port, maxRetriesPerRequest: 1 })
      c.on('error', () => {})
      return c
    },
    /** Kills redis-server and starts a new one on the same port; resolves once it answers PING. */
    async restart () {
      await kill()
      const next = await spawnUntilPing(args, port, wrapper)
      if (next === null) throw new Error('redis-server did not come back after the restart')
      proc = next
    },
    async stop () {
      await kill()
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/**
 * Spawns redis-server with `args` (behind `wrapper`, a command such as valgrind's, when given);
 * the process once it answers PING on `port`, else null.
 */
async function spawnUntilPing (args, port, wrapper = []) {
  const [command, ...rest] = [...wrapper, 'redis-server', ...args]
  const proc = spawn(command, rest, { stdio: ['ignore', 'ignore', 'inherit'] })
  const spawnError = new Promise((_resolve, reject) => proc.once('error', reject))
  spawnError.catch(() => {})
  const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  probe.on('error', () => {})
  let ready = false
  for (let i = 0; i < 200 && !ready; i++) {
    if (proc.exitCode !== null) break
    try {
      await Promise.race([probe.connect().then(() => probe.ping()), spawnError])
      ready = true
    } catch (err) {
      if (err?.code === 'ENOENT') break
      await sleep(50)
    }
    probe.disconnect()
  }
  if (!ready) {
    proc.kill('SIGKILL')
    return null
  }
  return proc
}

/** Parses `INFO` text into { section fields }: numbers stay strings except where asked. */
export function parseInfo (text) {
  const out = {}
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue
    const i = line.indexOf(':')
    if (i !== -1) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

/** Calls per command from `INFO commandstats` text: { evalsha: 12, lpush: 30, ... }. */
export function commandCalls (info) {
  const calls = {}
  for (const [key, value] of Object.entries(info)) {
    if (!key.startsWith('cmdstat_')) continue
    const m = /(?:^|,)calls=(\d+)/.exec(value)
    if (m !== null) calls[key.slice(8)] = Number(m[1])
  }
  return calls
}

/**
 * A private three-node Redis Cluster (no replicas), as in test/helpers/cluster.ts: three
 * redis-servers with --cluster-enabled yes joined by `redis-cli --cluster create`. `url` is the
 * seed list the plugin's `redis` option takes; `client()` is an ioredis Cluster; `nodes()` one
 * plain client per node (for INFO, which is per node).
 */
export async function startCluster (count = 3) {
  const ports = []
  while (ports.length < count) {
    const p = await freePort()
    if (p < 55000 && !ports.includes(p)) ports.push(p) // the cluster bus uses port + 10000
  }
  const dir = mkdtempSync(join(tmpdir(), 'userlog-bench-cluster-'))
  const procs = ports.map((port) => {
    const nodeDir = join(dir, String(port))
    mkdirSync(nodeDir)
    return spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000', '--save', '', '--appendonly', 'no',
      '--dir', nodeDir, '--protected-mode', 'no', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'inherit'] })
  })
  const stop = async () => {
    for (const proc of procs) {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve))
        proc.kill('SIGKILL')
        await exited
      }
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (const port of ports) {
      const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
      probe.on('error', () => {})
      let ready = false
      for (let i = 0; i < 100 && !ready; i++) {
        try { await probe.connect(); await probe.ping(); ready = true } catch { await sleep(50) }
        probe.disconnect()
      }
      if (!ready) throw new Error('redis-server did not start (is it installed? `make bench` installs it)')
    }
    const addresses = ports.map((p) => `127.0.0.1:${p}`)
    execFileSync('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      { stdio: 'ignore' })
    for (let ok = false, i = 0; !ok; i++) {
      if (i > 200) throw new Error('the cluster did not reach cluster_state:ok')
      const info = (p) => execFileSync('redis-cli', ['-p', String(p), 'cluster', 'info'], { encoding: 'utf8' })
      ok = ports.every((p) => info(p).includes('cluster_state:ok'))
      if (!ok) await sleep(100)
    }
  } catch (err) {
    await stop()
    throw err
  }
  return {
    ports,
    url: ports.map((p) => `redis://127.0.0.1:${p}`).join(','),
    client () {
      const c = new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })), { shardedSubscribers: true })
      c.on('error', () => {})
      return c
    },
    nodes () {
      return ports.map((port) => {
        const c = new Redis({ port, maxRetriesPerRequest: 1 })
        c.on('error', () => {})
        return c
      })
    },
    stop
  }
}
