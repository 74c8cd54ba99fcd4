// A real Redis Cluster on free ports, for one test file: redis-server processes with
// --cluster-enabled yes, joined by `redis-cli --cluster create`. By default three masters without
// replicas; with `replicas: 1`, three masters and one replica each (six processes), where killing
// a master makes its replica take over.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import { freePort, waitForRedis } from './redis.js'

const run = promisify(execFile)

export interface ClusterOptions {
  /** Replicas per master (each master's slots fail over to one of them). */
  replicas?: number
  /** cluster-node-timeout: how long a node may be unreachable before it is failed over. */
  nodeTimeoutMs?: number
}

/** One line of CLUSTER NODES. */
interface NodeLine { id: string, port: number, flags: string[], masterId: string | null, slots: string[] }

async function clusterNodes (port: number): Promise<NodeLine[]> {
  const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'nodes'])
  return stdout.trim().split('\n').map((line) => {
    const [id = '', addr = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ')
    return { id, port: Number(/:(\d+)@/.exec(addr)?.[1]), flags: flags.split(','), masterId: master === '-' ? null : master, slots }
  })
}

export class RedisCluster {
  readonly ports: number[]
  private readonly procs = new Map<number, ChildProcess>()
  private readonly dir: string

  private constructor (
    ports: number[], private readonly nodeTimeoutMs: number, private readonly fullCoverage: boolean
  ) {
    this.ports = ports
    this.dir = mkdtempSync(join(tmpdir(), 'userlog-cluster-'))
  }

  /** `redis://` URLs of every node, e.g. for `--redis` with several seeds. */
  get urls (): string[] { return this.ports.map((p) => `redis://127.0.0.1:${p}`) }

  /** `masters` masters, each with `options.replicas` replicas (none by default). */
  static async start (masters = 3, options: ClusterOptions = {}): Promise<RedisCluster> {
    const replicas = options.replicas ?? 0
    const ports: number[] = []
    while (ports.length < masters * (1 + replicas)) {
      const p = await freePort()
      // The cluster bus uses port + 10000: both must be free and below 65536.
      if (p < 55000 && !ports.includes(p)) ports.push(p)
    }
    // With replicas, the production default: a master down means its slots refuse until its
    // replica takes over, so cluster_state:ok again says the failover is complete.
    const cluster = new RedisCluster(ports, options.nodeTimeoutMs ?? 2000, replicas > 0)
    for (const port of ports) await cluster.startNode(port)
    await run('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`),
      '--cluster-replicas', String(replicas), '--cluster-yes'])
    await cluster.waitOk()
    if (replicas > 0) await cluster.waitReplicasSynced()
    return cluster
  }

  /** Starts (or restarts, keeping its nodes.conf) the node on `port`. */
  async startNode (port: number): Promise<void> {
    const dir = join(this.dir, String(port))
    mkdirSync(dir, { recursive: true })
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(this.nodeTimeoutMs),
      // Without replicas, slots of the nodes still up keep serving while one is down (the default
      // would refuse every write once the node timeout passes, making outage tests race it).
      '--cluster-require-full-coverage', this.fullCoverage ? 'yes' : 'no', '--save', '', '--appendonly', 'no',
      '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning'], { stdio: 'ignore' })
    this.procs.set(port, proc)
    await waitForRedis(port, 'cluster node')
  }

  async killNode (port: number): Promise<void> {
    const proc = this.procs.get(port)
    if (proc === undefined || proc.exitCode !== null) return
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
    this.procs.delete(port)
  }

  /** Waits until every running node reports cluster_state:ok. */
  async waitOk (ms = 20_000): Promise<void> {
    const end = Date.now() + ms
    while (Date.now() < end) {
      let ok = true
      for (const port of this.procs.keys()) {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']).catch(() => ({ stdout: '' }))
        if (!stdout.includes('cluster_state:ok')) ok = false
      }
      if (ok) return
      await sleep(100)
    }
    throw new Error('the cluster did not reach cluster_state:ok')
  }

  /** Waits until every replica has its master's data (a replica not yet synced cannot take over). */
  private async waitReplicasSynced (ms = 20_000): Promise<void> {
    const end = Date.now() + ms
    for (const port of this.ports) {
      if ((await this.masterOf(port)) === null) continue
      for (;;) {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'info', 'replication'])
        if (stdout.includes('master_link_status:up')) break
        if (Date.now() > end) throw new Error(`the replica on ${port} did not sync`)
        await sleep(100)
      }
    }
  }

  /** The port of the master `port` replicates, or null when `port` is a master (as `port` itself sees it). */
  async masterOf (port: number): Promise<number | null> {
    const nodes = await clusterNodes(port)
    const me = nodes.find((n) => n.flags.includes('myself'))
    if (me?.masterId === null || me === undefined) return null
    return nodes.find((n) => n.id === me.masterId)?.port ?? null
  }

  /** The ports of `master`'s replicas. */
  async replicasOf (master: number): Promise<number[]> {
    const nodes = await clusterNodes(master)
    const id = nodes.find((n) => n.flags.includes('myself'))?.id
    return nodes.filter((n) => n.masterId === id).map((n) => n.port)
  }

  /**
   * SIGKILLs the master on `port` (no shutdown, no last replication) and returns its replicas'
   * ports: one of them is expected to take over.
   */
  async killMaster (port: number): Promise<number[]> {
    const replicas = await this.replicasOf(port)
    if (replicas.length === 0) throw new Error(`the node on ${port} is not a master with replicas`)
    await this.killNode(port)
    return replicas
  }

  /**
   * Waits until one of `replicas` (the killed master's) has become a master holding slots and
   * every running node reports cluster_state:ok again; returns the new master's port.
   */
  async waitFailover (replicas: number[], ms = 30_000): Promise<number> {
    const end = Date.now() + ms
    while (Date.now() < end) {
      for (const port of replicas) {
        const me = (await clusterNodes(port).catch(() => [])).find((n) => n.flags.includes('myself'))
        if (me?.flags.includes('master') === true && me.slots.length > 0) {
          await this.waitOk(Math.max(end - Date.now(), 1))
          return port
        }
      }
      await sleep(50)
    }
    throw new Error(`no replica of ${replicas.join(', ')} took over`)
  }

  client (): Cluster {
    const c = new Cluster(this.ports.map((port) => ({ host: '127.0.0.1', port })))
    c.on('error', () => {})
    return c
  }

  async stop (): Promise<void> {
    for (const port of [...this.procs.keys()]) await this.killNode(port)
    rmSync(this.dir, { recursive: true, force: true })
  }
}
