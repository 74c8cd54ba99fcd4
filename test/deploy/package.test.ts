// The package as a user gets it: `npm pack`, then `npm install <tarball> fastify@5` into a fresh
// project, then a CommonJS and an ES module app that log one request into a real redis-server,
// the `userlog` command, and what the main entry loads. It tests dist/ as it is: `make test`
// builds before tap runs; run alone, the test builds only if dist/index.js is missing.
//
// Source maps: dist/**/*.js.map are shipped (tsconfig.build.json emits them and `files` ships all
// of dist/). They point at ../src/*.ts, which is not in the tarball, so they only map line numbers;
// the allow-list below accepts them and nothing else that is not JavaScript or declarations.
import t from 'tap'
import { execFile } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { RedisServer } from '../helpers/redis.js'
import { ROOT, ensureBuilt } from '../helpers/demo-build.js'

const run = promisify(execFile)

interface Manifest {
  name: string
  version: string
  main?: string
  types?: string
  bin?: Record<string, string>
  exports: Record<string, string | Record<string, string>>
}
const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest

/**
 * The environment of a user's shell, not of this test: without tap's NODE_OPTIONS (its loader and
 * coverage hooks), tap's own variables and the npm_* variables of an `npm test` run.
 */
function userEnv (extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || /^(npm_|TAP|_TAPJS)/i.test(k)) continue
    env[k] = v
  }
  return { ...env, ...extra }
}

/** Runs a command; a non-zero exit rejects with its output in the message. */
async function sh (
  file: string, args: string[], cwd: string, timeout: number, env: NodeJS.ProcessEnv = userEnv()
): Promise<string> {
  try {
    const { stdout } = await run(file, args, { cwd, env, timeout, maxBuffer: 16 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const e = err as Error & { stdout?: string, stderr?: string }
    throw new Error(`${file} ${args.join(' ')} failed: ${e.message}\nstdout: ${e.stdout ?? ''}`, { cause: err })
  }
}

await ensureBuilt()
const redis = await RedisServer.start()
const db = redis.client()
const tmp = mkdtempSync(join(tmpdir(), 'userlog-pkg-'))
t.teardown(async () => {
  db.disconnect()
  await redis.stop()
  rmSync(tmp, { recursive: true, force: true })
})

const packed = JSON.parse(await sh('npm', ['pack', '--json', '--pack-destination', tmp], ROOT, 60_000)) as
  Array<{ filename: string }>
const tarball = join(tmp, packed[0]?.filename ?? 'missing.tgz')

/** Paths inside the tarball, without the leading `package/`. */
const files = (await sh('tar', ['tzf', tarball], tmp, 30_000)).split('\n')
  .filter((l) => l !== '' && !l.endsWith('/')).map((l) => l.replace(/^package\//, '')).sort()

t.test('npm pack: the tarball holds what a user needs and nothing else', async (t) => {
  const needed = ['package.json', 'README.md', 'SECURITY.md', 'dist/index.js', 'dist/index.d.ts',
    'dist/realtime/index.js', 'dist/realtime/index.d.ts', 'dist/cli/main.js', 'public/tracker.js',
    'public/admin/index.html']
  if (existsSync(join(ROOT, 'LICENSE'))) needed.push('LICENSE')
  for (const f of needed) t.ok(files.includes(f), `the tarball holds ${f}`)

  // Every file package.json points a user at: main, types, bin and each exports target.
  const targets = [manifest.main, manifest.types, ...Object.values(manifest.bin ?? {}),
    ...Object.values(manifest.exports).flatMap((v) => typeof v === 'string' ? [v] : Object.values(v))]
  for (const target of targets) {
    if (target === undefined) continue
    t.ok(files.includes(target.replace(/^\.\//, '')), `package.json points at ${target}, which the tarball holds`)
  }

  // An allow-list: the four top-level files, compiled code and declarations, and
  const allowed = (f: string): boolean =>
    ['package.json', 'README.md', 'SECURITY.md', 'LICENSE'].includes(f) ||
    /^dist\/.+\.(js|d\.ts|js\.map)$/.test(f) ||
    // the browser files, and the declarations of the rules the server shares with the page
    /^public\/.+\.(js|css|html|d\.ts)$/.test(f)
  t.same(files.filter((f) => !allowed(f)), [], 'no file outside the allow-list')
  // And by name, what must never ship (a broader `files` entry would let these in).
  const never = /^(src|test|bench|demo|docs|deploy|scripts|\.ci|node_modules|coverage|\.tap|\.demo)\/|^dist\/(test|bench|demo)\/|tsconfig|\.tst\.|\.test\.|\.png$|^(Makefile|Dockerfile|\.dockerignore|\.gitignore|\.taprc|eslint\.config\.js|package-lock\.json|tstyche\.json|docker-compose.*)$/
  t.same(files.filter((f) => never.test(f)), [],
    'no sources, tests, benchmarks, demo, CI, deploy files, screenshots or configs')
  t.ok(files.length < 400, `a reasonable number of files (${files.length})`)
  // tsc never deletes: a module moved or removed in src/ leaves its old output in dist/ until
  // `make clean`, and npm pack would ship it.
  const stale = files.filter((f) => f.startsWith('dist/'))
    .map((f) => f.replace(/^dist\//, 'src/').replace(/(\.d\.ts|\.js\.map|\.js)$/, '.ts'))
    .filter((src, i, all) => all.indexOf(src) === i && !existsSync(join(ROOT, src)))
  t.same(stale, [], 'every file in dist/ is compiled from a file in src/ (no stale output; `make clean` removes it)')
})

const project = join(tmp, 'project')
t.test('npm install <tarball> fastify@5 into a fresh project', async (t) => {
  await sh('mkdir', ['-p', project], tmp, 10_000)
  await sh('npm', ['init', '-y'], project, 30_000)
  await sh('npm', ['install', tarball, 'fastify@5', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'],
    project, 150_000)
  const installedJson = readFileSync(join(project, 'node_modules', manifest.name, 'package.json'), 'utf8')
  const installed = JSON.parse(installedJson) as Manifest
  t.equal(installed.version, manifest.version)
})

/**
 * Lists the modules of `ws` and `@fastify/websocket` in require.cache: CommonJS modules land there
 * even when an ES module imports them.
 */
const LOADED_WS = 'Object.keys(require.cache)' +
  `.filter((k) => /[\\\\/]node_modules[\\\\/](ws|@fastify[\\\\/]websocket)[\\\\/]/.test(k))`

const CJS_APP = `'use strict'
const { userlog } = require('fastify-userlog')
const pkg = require('fastify-userlog')
const Fastify = require('fastify')
async function main () {
  const app = Fastify()
  await app.register(userlog, { redis: process.env.REDIS_URL, getUser: (req) => req.headers['x-user'] ?? null })
  app.get('/hello', async () => ({ hello: 'cjs' }))
  const res = await app.inject({ url: '/hello?from=cjs', headers: { 'x-user': process.env.APP_USER } })
  await app.userlog.flush()
  const stats = app.userlog.stats()
  await app.close()
  console.log(JSON.stringify({
    status: res.statusCode, body: res.json(), stats, sameDefault: pkg.default === userlog, ws: ${LOADED_WS}
  }))
}
main().catch((err) => { console.error(err); process.exit(1) })
`

const ESM_APP = `import userlog from 'fastify-userlog'
import Fastify from 'fastify'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const app = Fastify()
await app.register(userlog, { redis: process.env.REDIS_URL, getUser: (req) => req.headers['x-user'] ?? null })
app.get('/hello', async () => ({ hello: 'esm' }))
const res = await app.inject({ url: '/hello?from=esm', headers: { 'x-user': process.env.APP_USER } })
await app.userlog.flush()
const stats = app.userlog.stats()
await app.close()
console.log(JSON.stringify({ status: res.statusCode, body: res.json(), stats, ws: ${LOADED_WS} }))
`

// The control for the check above: the realtime entry does load ws, and the check sees it.
const REALTIME_APP = `import { userlogRealtime } from 'fastify-userlog/realtime'
import Fastify from 'fastify'
import { createRequire } from 'node:module'
const require = createRequire(import.meta.url)
const app = Fastify()
await app.register(userlogRealtime, { redis: process.env.REDIS_URL })
await app.ready()
const decorated = typeof app.userlogRealtime.stats === 'function' && typeof app.userlogRealtime.viewers === 'function'
await app.close()
const cjs = require('fastify-userlog/realtime')
console.log(JSON.stringify({ decorated, cjs: typeof cjs.userlogRealtime, ws: ${LOADED_WS} }))
`

interface AppResult { status: number, body: unknown, stats: { written: number }, sameDefault?: boolean, ws: string[] }

async function runApp (name: string, source: string, user: string): Promise<AppResult> {
  writeFileSync(join(project, name), source)
  const out = await sh(process.execPath, [name], project, 30_000, userEnv({ REDIS_URL: redis.url, APP_USER: user }))
  return JSON.parse(out.trim().split('\n').at(-1) ?? '') as AppResult
}

async function logOf (user: string): Promise<Array<Record<string, unknown>>> {
  return (await db.lrange(`userlog:{${user}}:log`, 0, -1)).map((s) => JSON.parse(s) as Record<string, unknown>)
}

t.test('a CommonJS app: require(\'fastify-userlog\') logs a request into Redis', async (t) => {
  const result = await runApp('app.cjs', CJS_APP, 'alice')
  t.equal(result.status, 200)
  t.same(result.body, { hello: 'cjs' })
  t.equal(result.sameDefault, true, 'the default export is the named `userlog`')
  t.equal(result.stats.written, 1, 'flush() wrote the entry')
  const log = await logOf('alice')
  t.equal(log.length, 1)
  t.match(log[0],
    { user: 'alice', kind: 'request', method: 'GET', path: '/hello?from=cjs', route: '/hello', status: 200 })
  t.same(result.ws, [], 'require(\'fastify-userlog\') loads neither ws nor @fastify/websocket')
})

t.test('an ES module app: import userlog from \'fastify-userlog\' logs a request into Redis', async (t) => {
  const result = await runApp('app.mjs', ESM_APP, 'bob')
  t.equal(result.status, 200)
  t.same(result.body, { hello: 'esm' })
  t.equal(result.stats.written, 1, 'flush() wrote the entry')
  const log = await logOf('bob')
  t.equal(log.length, 1)
  t.match(log[0],
    { user: 'bob', kind: 'request', method: 'GET', path: '/hello?from=esm', route: '/hello', status: 200 })
  t.same(result.ws, [], 'import \'fastify-userlog\' loads neither ws nor @fastify/websocket')
})

t.test('fastify-userlog/realtime: imports, registers, decorates, and is what loads ws', async (t) => {
  const result = await runApp('realtime.mjs', REALTIME_APP, 'nobody') as AppResult & { decorated: boolean, cjs: string }
  t.equal(result.decorated, true, 'fastify.userlogRealtime has stats() and viewers()')
  t.equal(result.cjs, 'function', 'require(\'fastify-userlog/realtime\') works too')
  t.ok(result.ws.some((k) => /[\\/]node_modules[\\/]ws[\\/]/.test(k)), 'ws is loaded, and the check of the main entry would see it')
  t.ok(result.ws.some((k) => /[\\/]@fastify[\\/]websocket[\\/]/.test(k)), '@fastify/websocket is loaded')
})

t.test('the userlog command runs from the installed project', async (t) => {
  const out = await sh(join(project, 'node_modules', '.bin', 'userlog'), ['--version'], project, 30_000)
  t.equal(out.trim(), manifest.version)
})
