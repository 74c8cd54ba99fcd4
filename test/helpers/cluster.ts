// A real three-node Redis Cluster on free ports, for one test file: three redis-server
// processes with --cluster-enabled yes, joined by `redis-cli --cluster create`.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import { freePort, waitForRedis } from './redis.js'

const run = promisify(execFile)

export class RedisCluster {
  readonly ports: number[]
  private readonly procs = new Map<number, ChildProcess>()
  private readonly dir: string

  private constructor (ports: number[]) {
    this.ports = ports
    this.dir = mkdtempSync(join(tmpdir(), 'userlog-cluster-'))
  }

  /** `redis://` URLs of every node, e.g. for `--redis` with several seeds. */
  get urls (): string[] { return this.ports.map((p) => `redis://127.0.0.1:${p}`) }

  static async start (nodes = 3): Promise<RedisCluster> {
    const ports: number[] = []
    while (ports.length < nodes) {
      const p = await freePort()
      // The cluster bus uses port + 10000: both must be free and below 65536.
      if (p < 55000 && !ports.includes(p)) ports.push(p)
    }
    const cluster = new RedisCluster(ports)
    for (const port of ports) await cluster.startNode(port)
    await run('redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'])
    await cluster.waitOk()
    return cluster
  }

  /** Starts (or restarts, keeping its nodes.conf) the node on `port`. */
  async startNode (port: number): Promise<void> {
    const dir = join(this.dir, String(port))
    mkdirSync(dir, { recursive: true })
    const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--cluster-enabled', 'yes',
      '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000',
      // Slots of the nodes still up keep serving while one is down (without replicas the default
      // would refuse every write once the node timeout passes, making outage tests race it).
      '--cluster-require-full-coverage', 'no', '--save', '', '--appendonly', 'no',
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

  /** Waits until every node reports cluster_state:ok. */
  async waitOk (ms = 20_000): Promise<void> {
    const end = Date.now() + ms
    while (Date.now() < end) {
      let ok = true
      for (const port of this.ports) {
        const { stdout } = await run('redis-cli', ['-p', String(port), 'cluster', 'info']).catch(() => ({ stdout: '' }))
        if (!stdout.includes('cluster_state:ok')) ok = false
      }
      if (ok) return
      await sleep(100)
    }
    throw new Error('the cluster did not reach cluster_state:ok')
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
