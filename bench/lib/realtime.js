// The realtime server as the live benchmarks run it: dist/cli/main.js in its own process, as in
// production, and the key names they need.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from './redis.js'

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url))

export const keys = {
  log: (u) => `userlog:{${u}}:log`,
  channel: (u) => `userlog:live:{${u}}`,
  all: 'userlog:live:*all',
  token: (t) => `userlog:{tok}:${t}`
}

/**
 * Starts `userlog realtime` on a free port and waits until it reports Redis up. `execArgv` are
 * node's own flags for it; with `ipc` it gets an IPC channel (for bench/lib/memory-probe.js).
 */
export async function startRealtime (redisUrl, { execArgv = [], ipc = false } = {}) {
  const port = await freePort()
  const args = [...execArgv, CLI, 'realtime', '--port', String(port), '--redis', redisUrl, '--log-level', 'warn']
  const stdio = ['ignore', 'ignore', 'inherit', ...(ipc ? ['ipc'] : [])]
  const proc = spawn(process.execPath, args, { stdio })
  const http = `http://127.0.0.1:${port}`
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) {
      throw new Error(`the realtime server exited (${proc.exitCode}); is dist/ built? (npm run build)`)
    }
    try {
      const res = await fetch(`${http}/healthz`)
      if (res.ok && (await res.json()).redis === 'up') return { proc, http, ws: `ws://127.0.0.1:${port}/live` }
    } catch {
      // not listening yet
    }
    await sleep(50)
  }
  proc.kill('SIGKILL')
  throw new Error('the realtime server did not become healthy')
}

/** SIGTERM (graceful), then SIGKILL after `graceMs`. */
export async function stopChild (proc, graceMs = 10_000) {
  if (proc.exitCode !== null) return
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  proc.kill('SIGTERM')
  const t = setTimeout(() => proc.kill('SIGKILL'), graceMs)
  await exited
  clearTimeout(t)
}
