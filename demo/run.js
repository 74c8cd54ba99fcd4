// `make demo`: Redis (REDIS_URL, or a private redis-server), the demo app with seeded traffic and
// the realtime server, in the foreground. Ctrl-C or SIGTERM stops everything it started, in
// order (realtime server, app with a last flush, redis-server), removes the temporary directory
// and exits 0.
//
// Environment:
//   PORT (3000), HOST (127.0.0.1)        the demo app
//   REALTIME_PORT (8080)                 the realtime server (listens on HOST too)
//   REALTIME_URL                         where the admin page connects, if not ws://localhost:REALTIME_PORT/live
//   REDIS_URL                            use this Redis instead of starting one
//   REDIS_PORT (a free port)             port of the private redis-server
//   USERLOG_DEMO_NO_REALTIME=1           do not start the realtime server (docker-compose runs its own)
//   DEMO_COOKIE_SECRET                   signs the login cookie (default: random per start)
//   LOG_LEVEL (warn)                     the demo app's log level
//
// Children are started in their own process group, so a Ctrl-C in the terminal reaches this
// process only and the shutdown order holds; if this process dies without running its exit
// handler (SIGKILL), they must be stopped by hand.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { freePort } from '../scripts/free-port.js'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const DIST_INDEX = join(ROOT, 'dist', 'index.js')
const REALTIME_CLI = join(ROOT, 'dist', 'cli', 'main.js')
const STOP_WAIT_MS = 5000

class DemoError extends Error {}

const state = {
  stopping: false,
  app: null,
  redis: null, // { proc, dir }
  realtime: null, // ChildProcess
  started: false
}

function portFromEnv (name, def) {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return def
  const port = Number(raw)
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) throw new DemoError(`${name} must be a port number from 1 to 65535 (got ${JSON.stringify(raw)})`)
  return port
}

/** Resolves true if `port` can be bound on `host` now, false if it is in use. */
async function portIsFree (port, host) {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', (err) => {
      if (err.code === 'EADDRINUSE') resolve(false)
      else reject(err)
    })
    srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)))
  })
}

async function requireFreePort (port, host, envName) {
  let free
  try {
    free = await portIsFree(port, host)
  } catch (err) {
    throw new DemoError(`Cannot listen on ${host}:${port} (${err.code ?? err.message}): set ${envName} to another port`)
  }
  if (!free) {
    throw new DemoError(
      `Port ${port} is already in use: set ${envName} to another port, e.g. ${envName}=${port + 1} make demo`
    )
  }
}


function displayHost (host) {
  if (['127.0.0.1', '0.0.0.0', '::', '::1', 'localhost', ''].includes(host)) return 'localhost'
  return host.includes(':') ? `[${host}]` : host
}


/** Keeps the last lines a child printed, to explain why it stopped. */
function tail (stream, lines, onLine) {
  let partial = ''
  stream.setEncoding('utf8')
  stream.on('data', (chunk) => {
    const parts = (partial + chunk).split('\n')
    partial = parts.pop()
    for (const line of parts) {
      if (line === '') continue
      lines.push(line)
      if (lines.length > 20) lines.shift()
      onLine?.(line)
    }
  })
}

async function startRedis (port) {
  const { Redis } = await import('ioredis')
  const dir = mkdtempSync(join(tmpdir(), 'userlog-demo-redis-'))
  const proc = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning'
  ], { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  state.redis = { proc, dir }
  const output = []
  tail(proc.stdout, output)
  tail(proc.stderr, output)
  const failed = new Promise((resolve) => {
    proc.once('error', (err) => resolve(err.code === 'ENOENT'
      ? 'redis-server is not installed: run `scripts/system-deps.sh redis` (make demo does), or set REDIS_URL'
      : `redis-server could not start: ${err.message}`))
    proc.once('exit', (code, signal) => resolve(
      `redis-server exited (${signal ?? `code ${code}`}) on port ${port}: ` +
      `${output.slice(-3).join(' | ') || 'no output'}; ` +
      'set REDIS_PORT to another port or REDIS_URL to an existing Redis'
    ))
  })
  let failure = null
  void failed.then((why) => { failure = why })
  const url = `redis://127.0.0.1:${port}`
  for (let i = 0; i < 200 && failure === null; i++) {
    const client = new Redis(url, {
      lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false
    })
    client.on('error', () => {})
    try {
      await client.connect()
      await client.ping()
      client.disconnect()
      return url
    } catch {
      client.disconnect()
      await sleep(50)
    }
  }
  await sleep(20)
  throw new DemoError(failure ?? `redis-server did not answer on port ${port} within 10 s`)
}

async function startRealtime ({ port, host, redisUrl, appPort }) {
  const args = [
    REALTIME_CLI, 'realtime', '--port', String(port), '--host', host, '--redis', redisUrl,
    '--origin', `http://localhost:${appPort}`, '--origin', `http://127.0.0.1:${appPort}`, '--prefix', 'userlog'
  ]
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, cwd: ROOT })
  state.realtime = proc
  const output = []
  const echo = (line) => { if (!state.stopping) process.stdout.write(`[realtime] ${line}\n`) }
  tail(proc.stdout, output, echo)
  tail(proc.stderr, output, echo)
  let exited = null
  proc.once('error', (err) => { exited = err.message })
  proc.once('exit', (code, signal) => {
    exited ??= signal ?? `code ${code}`
    if (!state.stopping && state.started) {
      process.stdout.write(`The realtime server stopped (${exited}); ` +
        'the admin page\'s live view is unavailable until the demo is restarted.\n')
    }
  })
  const probeHost = ['0.0.0.0', '::', ''].includes(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host
  for (let i = 0; i < 100 && exited === null; i++) {
    try {
      const res = await fetch(`http://${probeHost}:${port}/healthz`, { signal: AbortSignal.timeout(1000) })
      if (res.ok) return true
    } catch {
      // not listening yet
    }
    await sleep(100)
  }
  if (exited !== null) {
    throw new DemoError(
      `The realtime server exited (${exited}) while starting:\n  ${output.slice(-5).join('\n  ') || 'no output'}\n` +
      `If port ${port} is taken, set REALTIME_PORT to another port.`
    )
  }
  process.stdout.write(
    `Note: the realtime server did not answer ${probeHost}:${port}/healthz within 10 s; it is left running.\n`
  )
  return false
}

async function stopChild (proc) {
  if (proc === null || proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise((resolve) => proc.once('exit', resolve))
  proc.kill('SIGTERM')
  const timer = setTimeout(() => proc.kill('SIGKILL'), STOP_WAIT_MS)
  await exited
  clearTimeout(timer)
}

async function shutdown (code) {
  if (state.stopping) return
  state.stopping = true
  if (code === 0) process.stdout.write('\nStopping the demo…\n')
  await stopChild(state.realtime).catch(() => {})
  if (state.app !== null) {
    await state.app.close().catch((err) => { process.stderr.write(`Closing the app failed: ${err.message}\n`) })
  }
  if (state.redis !== null) {
    await stopChild(state.redis.proc).catch(() => {})
    rmSync(state.redis.dir, { recursive: true, force: true })
    state.redis = null
  }
  if (code === 0) process.stdout.write('Stopped.\n')
  process.exit(code)
}

// Last resort (an uncaught error, a second Ctrl-C): nothing this process started outlives it.
process.on('exit', () => {
  for (const proc of [state.realtime, state.redis?.proc]) {
    if (proc != null && proc.exitCode === null && proc.signalCode === null) {
      try { proc.kill('SIGKILL') } catch { /* already gone */ }
    }
  }
  if (state.redis !== null) rmSync(state.redis.dir, { recursive: true, force: true })
})

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (state.stopping) {
      process.stderr.write('Forced exit.\n')
      process.exit(1)
    }
    void shutdown(0)
  })
}

async function main () {
  const port = portFromEnv('PORT', 3000)
  const host = process.env.HOST || '127.0.0.1'
  const realtimePort = portFromEnv('REALTIME_PORT', 8080)
  const realtimeHost = host
  const redisPortEnv = portFromEnv('REDIS_PORT', null)
  const noRealtime = process.env.USERLOG_DEMO_NO_REALTIME === '1'
  const realtimeBuilt = existsSync(REALTIME_CLI)

  if (!existsSync(DIST_INDEX)) {
    throw new DemoError('dist/index.js is missing: build the plugin first with `npm run build` (make demo does).')
  }
  // The plugin's own rule for printing a Redis URL without its password.
  const { redactRedis } = await import('../dist/shared/redis.js')

  await requireFreePort(port, host, 'PORT')
  if (!noRealtime && realtimeBuilt) await requireFreePort(realtimePort, realtimeHost, 'REALTIME_PORT')

  let redisUrl = process.env.REDIS_URL || null
  let ownRedis = false
  if (redisUrl === null) {
    const redisPort = redisPortEnv ?? await freePort()
    if (redisPortEnv !== null) await requireFreePort(redisPort, '127.0.0.1', 'REDIS_PORT')
    redisUrl = await startRedis(redisPort)
    ownRedis = true
  }
  if (state.stopping) return

  const { buildDemo } = await import(pathToFileURL(join(ROOT, 'demo', 'app.js')).href)
  const { seed } = await import(pathToFileURL(join(ROOT, 'demo', 'seed.js')).href)
  const realtimeUrl = process.env.REALTIME_URL || undefined
  const app = await buildDemo({
    redisUrl, realtimePort, realtimeUrl, logger: { level: process.env.LOG_LEVEL || 'warn' }
  })
  state.app = app
  try {
    await app.listen({ port, host })
  } catch (err) {
    if (err.code === 'EADDRINUSE') {
      throw new DemoError(`Port ${port} is already in use: set PORT to another port, e.g. PORT=${port + 1} make demo`)
    }
    throw err
  }
  if (state.stopping) return

  const seeded = await seed(app)
  if (state.stopping) return

  let realtimeLine
  const shownLive = realtimeUrl ?? `ws://${displayHost(realtimeHost)}:${realtimePort}/live`
  if (noRealtime) {
    realtimeLine = `${shownLive} (not started here: USERLOG_DEMO_NO_REALTIME=1)`
  } else if (!realtimeBuilt) {
    realtimeLine = 'not started: dist/cli/main.js is missing (build it with `npm run build`); ' +
      'the live view is unavailable'
  } else {
    await startRealtime({ port: realtimePort, host: realtimeHost, redisUrl, appPort: port })
    realtimeLine = shownLive
  }
  if (state.stopping) return
  state.started = true

  const base = `http://${displayHost(host)}:${port}`
  process.stdout.write([
    '',
    `fastify-userlog demo is running (seeded with ${seeded} requests of alice, bob and carol)`,
    '',
    `  App              ${base}/`,
    `  Log in as admin  ${base}/login?user=admin`,
    `  Admin page       ${base}/userlog/`,
    `  Realtime         ${realtimeLine}`,
    `  Redis            ${redactRedis(redisUrl)}` +
      (ownRedis ? ' (private redis-server, nothing saved; removed on exit)' : ''),
    '',
    'Log in as admin in one browser, as anyone else in another (or a private window), and watch',
    'that user on the admin page. Press Ctrl-C to stop.',
    ''
  ].join('\n') + '\n')
}

main().catch(async (err) => {
  process.stderr.write(err instanceof DemoError
    ? `make demo: ${err.message}\n`
    : `make demo failed: ${err.stack ?? err}\n`)
  await shutdown(1)
})
