// `make demo` end to end: node demo/run.js starts its own redis-server, serves the seeded demo,
// prints the URLs, answers on them, and on SIGINT stops everything and exits 0. A taken port
// fails at once with the variable to change.
import t, { type Test } from 'tap'
import { spawn, type ChildProcess } from 'node:child_process'
import {
  cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync
} from 'node:fs'
import { createServer, connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../helpers/redis.js'
import { ensureBuilt, ROOT, REALTIME_CLI } from '../helpers/demo-build.js'

await ensureBuilt()

interface Run {
  proc: ChildProcess
  out: () => string
  err: () => string
  exit: Promise<{ code: number | null, signal: string | null }>
  tmp: string
}

function run (env: Record<string, string>, root = ROOT): Run {
  // A temp dir of its own, so "removed on exit" can be checked without seeing other runs.
  const tmp = mkdtempSync(join(tmpdir(), 'userlog-demo-test-'))
  const childEnv: Record<string, string | undefined> = { ...process.env, TMPDIR: tmp, ...env }
  delete childEnv.REDIS_URL
  const proc = spawn(process.execPath, [join(root, 'demo', 'run.js')],
    { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  proc.stdout?.setEncoding('utf8').on('data', (c: string) => { out += c })
  proc.stderr?.setEncoding('utf8').on('data', (c: string) => { err += c })
  const exit = new Promise<{ code: number | null, signal: string | null }>((resolve) => {
    proc.once('exit', (code, signal) => resolve({ code, signal }))
  })
  return { proc, out: () => out, err: () => err, exit, tmp }
}

async function waitFor (r: Run, text: string, ms: number): Promise<void> {
  const until = Date.now() + ms
  while (!r.out().includes(text)) {
    if (r.proc.exitCode !== null) throw new Error(`demo exited (${r.proc.exitCode}):\n${r.out()}\n${r.err()}`)
    if (Date.now() > until) throw new Error(`"${text}" not printed within ${ms} ms:\n${r.out()}\n${r.err()}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

function printed (out: string, label: string): string {
  const m = new RegExp(`^ {2}${label} +(\\S+)`, 'm').exec(out)
  if (m?.[1] === undefined) throw new Error(`no "${label}" line in:\n${out}`)
  return m[1]
}

async function refused (port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => { socket.destroy(); resolve(false) })
    socket.once('error', () => resolve(true))
  })
}

function stopOnTeardown (t: Test, r: Run): void {
  t.teardown(async () => {
    if (r.proc.exitCode === null && r.proc.signalCode === null) {
      r.proc.kill('SIGKILL')
      await r.exit
    }
    rmSync(r.tmp, { recursive: true, force: true })
  })
}

t.test('serves the seeded demo on the printed URLs; SIGINT stops it and its redis-server', async (t) => {
  const [port, realtimePort, redisPort] = [await freePort(), await freePort(), await freePort()]
  const r = run({
    PORT: String(port),
    REALTIME_PORT: String(realtimePort),
    REDIS_PORT: String(redisPort),
    USERLOG_DEMO_NO_REALTIME: '1'
  })
  stopOnTeardown(t, r)
  await waitFor(r, 'Press Ctrl-C to stop.', 60_000)
  const out = r.out()
  t.equal(printed(out, 'App'), `http://localhost:${port}/`)
  t.equal(printed(out, 'Log in as admin'), `http://localhost:${port}/login?user=admin`)
  t.equal(printed(out, 'Admin page'), `http://localhost:${port}/userlog/`)
  t.equal(printed(out, 'Realtime'), `ws://localhost:${realtimePort}/live`)
  t.match(out, 'not started here: USERLOG_DEMO_NO_REALTIME=1')
  t.equal(printed(out, 'Redis'), `redis://127.0.0.1:${redisPort}`)
  t.notOk(await refused(redisPort), 'its redis-server is up')
  t.equal(readdirSync(r.tmp).length, 1, 'redis-server works in a temp dir')

  const home = await fetch(printed(out, 'App'))
  t.equal(home.status, 200)
  t.match(await home.text(), 'fastify-userlog demo')
  const login = await fetch(printed(out, 'Log in as admin'), { redirect: 'manual' })
  t.equal(login.status, 302)
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
  t.match(cookie, /^demo_user=admin\./)
  const page = await fetch(printed(out, 'Admin page'), { headers: { cookie } })
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /text\/html/)
  t.equal((await fetch(printed(out, 'Admin page'))).status, 403, 'not without the admin cookie')
  const users = await fetch(new URL('/userlog/api/users', printed(out, 'App')), { headers: { cookie } })
  const names = ((await users.json()) as { users: Array<{ user: string }> }).users.map((u) => u.user).sort()
  t.same(names, ['alice', 'bob', 'carol'], 'seeded')
  const realtimeConfig = await fetch(new URL('/userlog/api/config', printed(out, 'App')), { headers: { cookie } })
  t.equal(((await realtimeConfig.json()) as { realtimeUrl: string }).realtimeUrl, `ws://localhost:${realtimePort}/live`)

  r.proc.kill('SIGINT')
  t.same(await r.exit, { code: 0, signal: null }, 'clean exit')
  t.match(r.out(), 'Stopped.')
  t.equal(r.err(), '', 'nothing on stderr')
  t.ok(await refused(redisPort), 'its redis-server is gone')
  t.ok(await refused(port), 'the app is closed')
  t.same(readdirSync(r.tmp), [], 'its temp dir is removed')
})

t.test('SIGTERM works the same way', async (t) => {
  const [port, redisPort] = [await freePort(), await freePort()]
  const r = run({ PORT: String(port), REDIS_PORT: String(redisPort), USERLOG_DEMO_NO_REALTIME: '1' })
  stopOnTeardown(t, r)
  await waitFor(r, 'Press Ctrl-C to stop.', 60_000)
  r.proc.kill('SIGTERM')
  t.same(await r.exit, { code: 0, signal: null })
  t.ok(await refused(redisPort))
  t.same(readdirSync(r.tmp), [])
})

t.test('a taken port fails at once, naming the variable to change, and leaves nothing running', async (t) => {
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const taken = (blocker.address() as { port: number }).port
  for (const [name, env] of [
    ['PORT', { PORT: String(taken), USERLOG_DEMO_NO_REALTIME: '1' }],
    ['REDIS_PORT', { PORT: String(await freePort()), REDIS_PORT: String(taken), USERLOG_DEMO_NO_REALTIME: '1' }]
  ] as const) {
    const r = run(env)
    stopOnTeardown(t, r)
    t.same(await r.exit, { code: 1, signal: null }, name)
    t.match(r.err(), `Port ${taken} is already in use: set ${name} to another port`)
    t.same(readdirSync(r.tmp), [], 'no redis-server dir left')
  }
  const bad = run({ PORT: 'abc' })
  stopOnTeardown(t, bad)
  t.same(await bad.exit, { code: 1, signal: null })
  t.match(bad.err(), 'PORT must be a port number')
})

t.test('the realtime server child', async (t) => {
  const [port, realtimePort, redisPort] = [await freePort(), await freePort(), await freePort()]
  const r = run({ PORT: String(port), REALTIME_PORT: String(realtimePort), REDIS_PORT: String(redisPort) })
  stopOnTeardown(t, r)
  await waitFor(r, 'Press Ctrl-C to stop.', 60_000)
  if (!existsSync(REALTIME_CLI)) {
    t.match(r.out(), 'not started: dist/cli/main.js is missing', 'the demo starts without it and says so')
  } else {
    t.equal(printed(r.out(), 'Realtime'), `ws://localhost:${realtimePort}/live`)
    const health = await fetch(`http://127.0.0.1:${realtimePort}/healthz`)
    t.equal(health.status, 200, 'started and healthy')
  }
  r.proc.kill('SIGINT')
  t.same(await r.exit, { code: 0, signal: null })
  t.ok(await refused(realtimePort), 'the realtime server is stopped')
  t.ok(await refused(redisPort), 'its redis-server is gone')
})

// A copy of the tree with a stand-in realtime CLI: checks the arguments run.js passes, that it
// waits for /healthz, and that it stops the child, whether or not the real CLI is built yet.
const FAKE_CLI = `import { createServer } from 'node:http'
import { writeFileSync } from 'node:fs'
const args = process.argv.slice(2)
writeFileSync(new URL('./args.json', import.meta.url), JSON.stringify(args))
if (process.env.FAKE_REALTIME_FAIL === '1') { console.error('cannot start: fake failure'); process.exit(3) }
const flag = (n) => args[args.indexOf(n) + 1]
const srv = createServer((req, res) => { res.statusCode = req.url === '/healthz' ? 200 : 404; res.end('ok') })
srv.listen(Number(flag('--port')), flag('--host'), () => console.log(JSON.stringify({ level: 30, msg: 'listening' })))
process.on('SIGTERM', () => srv.close(() => {
  writeFileSync(new URL('./stopped', import.meta.url), '')
  process.exit(0)
}))
`

function fakeTree (t: Test): string {
  const root = mkdtempSync(join(tmpdir(), 'userlog-demo-tree-'))
  t.teardown(() => rmSync(root, { recursive: true, force: true }))
  cpSync(join(ROOT, 'dist'), join(root, 'dist'), { recursive: true })
  cpSync(join(ROOT, 'demo'), join(root, 'demo'), { recursive: true })
  cpSync(join(ROOT, 'scripts'), join(root, 'scripts'), { recursive: true })
  cpSync(join(ROOT, 'package.json'), join(root, 'package.json'))
  symlinkSync(join(ROOT, 'node_modules'), join(root, 'node_modules'))
  symlinkSync(join(ROOT, 'public'), join(root, 'public'))
  mkdirSync(join(root, 'dist', 'cli'), { recursive: true })
  writeFileSync(join(root, 'dist', 'cli', 'main.js'), FAKE_CLI)
  return root
}

t.test('starts the realtime CLI with the demo\'s origins, waits for /healthz, stops it on SIGINT', async (t) => {
  const root = fakeTree(t)
  const [port, realtimePort, redisPort] = [await freePort(), await freePort(), await freePort()]
  const r = run({ PORT: String(port), REALTIME_PORT: String(realtimePort), REDIS_PORT: String(redisPort) }, root)
  stopOnTeardown(t, r)
  await waitFor(r, 'Press Ctrl-C to stop.', 60_000)
  t.same(JSON.parse(readFileSync(join(root, 'dist', 'cli', 'args.json'), 'utf8')), [
    'realtime', '--port', String(realtimePort), '--host', '127.0.0.1', '--redis', `redis://127.0.0.1:${redisPort}`,
    '--origin', `http://localhost:${port}`, '--origin', `http://127.0.0.1:${port}`, '--prefix', 'userlog'
  ])
  t.equal(printed(r.out(), 'Realtime'), `ws://localhost:${realtimePort}/live`)
  t.match(r.out(), '[realtime] {"level":30,"msg":"listening"}', 'its log lines are shown, marked')
  t.equal((await fetch(`http://127.0.0.1:${realtimePort}/healthz`)).status, 200)
  r.proc.kill('SIGINT')
  t.same(await r.exit, { code: 0, signal: null })
  t.ok(existsSync(join(root, 'dist', 'cli', 'stopped')), 'the child got SIGTERM and stopped')
  t.ok(await refused(realtimePort))
  t.ok(await refused(redisPort))
  t.same(readdirSync(r.tmp), [])
})

t.test('a realtime server that fails to start stops the demo with its output', async (t) => {
  const root = fakeTree(t)
  const [port, redisPort, realtimePort] = [await freePort(), await freePort(), await freePort()]
  const r = run({
    PORT: String(port), REDIS_PORT: String(redisPort), REALTIME_PORT: String(realtimePort), FAKE_REALTIME_FAIL: '1'
  }, root)
  stopOnTeardown(t, r)
  t.same(await r.exit, { code: 1, signal: null })
  t.match(r.err(), 'The realtime server exited (code 3) while starting')
  t.match(r.err(), 'cannot start: fake failure')
  t.match(r.err(), 'set REALTIME_PORT to another port')
  t.ok(await refused(port), 'the app is closed')
  t.ok(await refused(redisPort), 'its redis-server is gone')
  t.same(readdirSync(r.tmp), [])
})

t.test('a taken REALTIME_PORT fails before anything starts', async (t) => {
  const root = fakeTree(t)
  const blocker = createServer()
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
  t.teardown(() => blocker.close())
  const taken = (blocker.address() as { port: number }).port
  const r = run({ PORT: String(await freePort()), REALTIME_PORT: String(taken) }, root)
  stopOnTeardown(t, r)
  t.same(await r.exit, { code: 1, signal: null })
  t.match(r.err(), `Port ${taken} is already in use: set REALTIME_PORT to another port`)
  t.same(readdirSync(r.tmp), [])
})
