// A private redis-server for one benchmark run: a free port, no persistence, removed on stop.
import { spawn, execFileSync } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'

export async function freePort () {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address()
      srv.close(() => resolve(port))
    })
  })
}

/** `redis-server --version`, e.g. "7.0.15", or null when it is not installed. */
export function redisServerVersion () {
  try {
    const out = execFileSync('redis-server', ['--version'], { encoding: 'utf8' })
    return /v=([0-9.]+)/.exec(out)?.[1] ?? out.trim()
  } catch {
    return null
  }
}

/** Starts redis-server on a free port; resolves once it answers PING. */
export async function startRedis () {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'userlog-bench-redis-'))
  const proc = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning'
  ], { stdio: ['ignore', 'ignore', 'inherit'] })
  const spawnError = new Promise((_resolve, reject) => proc.once('error', reject))
  spawnError.catch(() => {})
  const probe = new Redis({ port, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  probe.on('error', () => {})
  let ready = false
  for (let i = 0; i < 100 && !ready; i++) {
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
    rmSync(dir, { recursive: true, force: true })
    throw new Error('redis-server did not start (is it installed? `make bench` installs it)')
  }
  return {
    pid: proc.pid,
    port,
    url: `redis://127.0.0.1:${port}`,
    client () {
      const c = new Redis({ port, maxRetriesPerRequest: 1 })
      c.on('error', () => {})
      return c
    },
    async stop () {
      if (proc.exitCode === null) {
        const exited = new Promise((resolve) => proc.once('exit', resolve))
        proc.kill('SIGKILL')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    }
  }
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
