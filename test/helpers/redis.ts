// Starts a private redis-server on a free port for one test file: real Lua, real pub/sub,
// real TTLs. Nothing is shared between files, so they can run in parallel.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { freePort } from '../../scripts/free-port.js'

export { freePort }

/** Waits (up to 5 s) until a redis-server just spawned on `port` answers PING. */
export async function waitForRedis (port: number, what: string): Promise<void> {
  const client = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  client.on('error', () => {})
  for (let i = 0; i < 100; i++) {
    try {
      await client.connect()
      await client.ping()
      client.disconnect()
      return
    } catch {
      client.disconnect()
      await sleep(50)
    }
  }
  throw new Error(`${what} did not start on port ${port}`)
}

export class RedisServer {
  readonly port: number
  readonly url: string
  private proc: ChildProcess | null = null
  private readonly dir: string

  private constructor (port: number, private readonly args: string[]) {
    this.port = port
    this.url = `redis://127.0.0.1:${port}`
    this.dir = mkdtempSync(join(tmpdir(), 'userlog-redis-'))
  }

  /** `args` are extra redis-server arguments (e.g. `--maxmemory 4mb`), kept across a respawn. */
  static async start (args: string[] = []): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), args)
    await server.spawn()
    return server
  }

  /** (Re)starts the process on the same port: used to simulate an outage and a recovery. */
  async spawn (): Promise<void> {
    this.proc = spawn('redis-server', [
      '--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--dir', this.dir, '--protected-mode', 'no', '--loglevel', 'warning', ...this.args
    ], { stdio: 'ignore' })
    await waitForRedis(this.port, 'redis-server')
  }

  /** SIGKILL: the socket closes, clients see the outage at once. */
  async kill (): Promise<void> {
    const proc = this.proc
    if (proc === null || proc.exitCode !== null) return
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGKILL')
    await exited
    this.proc = null
  }

  /** SIGSTOP: the socket stays open and nothing answers; only timeouts notice. */
  freeze (): void { this.proc?.kill('SIGSTOP') }
  thaw (): void { this.proc?.kill('SIGCONT') }

  client (): Redis {
    const c = new Redis({ port: this.port, maxRetriesPerRequest: 1 })
    c.on('error', () => {})
    return c
  }

  async stop (): Promise<void> {
    this.thaw()
    await this.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
}
