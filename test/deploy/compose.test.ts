// docker-compose.yml and the Dockerfile say what the README says: redis on 6379, the demo on 3000,
// the realtime server on 8080, the demo waiting for Redis, and an image that does not run as root.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ROOT } from '../helpers/demo-build.js'

interface Service {
  image?: string
  build?: string | { context: string }
  command?: string[] | string
  environment?: Record<string, string> | string[]
  ports?: Array<string | { published: string | number, target: number, host_ip?: string }>
  depends_on?: string[] | Record<string, { condition?: string }>
  healthcheck?: { test: string[] | string }
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Service> }
const services = compose.services

/** Ports as [host ip, published, container port]. */
function ports (s: Service | undefined): Array<[string, number, number]> {
  return (s?.ports ?? []).map((p) => {
    if (typeof p !== 'string') return [p.host_ip ?? '0.0.0.0', Number(p.published), p.target]
    const parts = p.split(':')
    const target = Number(parts.pop())
    const published = Number(parts.pop())
    return [parts.pop() ?? '0.0.0.0', published, target]
  })
}

function env (s: Service | undefined): Record<string, string> {
  const e = s?.environment ?? {}
  if (!Array.isArray(e)) return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, String(v)]))
  return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]))
}

function words (v: string[] | string | undefined): string[] {
  return Array.isArray(v) ? v : (v ?? '').split(/\s+/).filter(Boolean)
}

t.test('services redis, demo and realtime, published on 6379, 3000 and 8080', async (t) => {
  t.same(Object.keys(services).sort(), ['demo', 'realtime', 'redis'])
  t.match(services.redis?.image, /^redis:7/)
  t.same(ports(services.redis), [['127.0.0.1', 6379, 6379]])
  t.same(ports(services.demo), [['127.0.0.1', 3000, 3000]])
  t.same(ports(services.realtime), [['127.0.0.1', 8080, 8080]])
})

t.test('the demo is built from the Dockerfile, waits for Redis and uses it', async (t) => {
  const demo = services.demo
  t.ok(demo?.build === '.' || (typeof demo?.build === 'object' && demo.build.context === '.'),
    'built from the repo root')
  const deps = demo?.depends_on
  t.ok(Array.isArray(deps) ? deps.includes('redis') : deps?.redis !== undefined, 'depends on redis')
  if (deps !== undefined && !Array.isArray(deps)) t.equal(deps.redis?.condition, 'service_healthy')
  t.same(words(demo?.command), ['node', 'demo/run.js'])
  t.match(env(demo), { REDIS_URL: 'redis://redis:6379', HOST: '0.0.0.0', PORT: '3000', REALTIME_PORT: '8080', USERLOG_DEMO_NO_REALTIME: '1' })
  t.match(words(demo?.healthcheck?.test).join(' '), 'http://127.0.0.1:3000/')
  t.ok(services.redis?.healthcheck !== undefined, 'redis has a healthcheck the demo can wait for')
})

t.test('the realtime service runs the CLI on 8080 for the demo\'s origins, with a /healthz check', async (t) => {
  const rt = services.realtime
  t.equal(rt?.image, services.demo?.image, 'same image as the demo')
  const cmd = words(rt?.command)
  t.same(cmd.slice(0, 3), ['node', 'dist/cli/main.js', 'realtime'])
  const flag = (name: string): string[] => cmd.flatMap((w, i) => (w === name ? [cmd[i + 1] ?? ''] : []))
  t.same(flag('--port'), ['8080'])
  t.same(flag('--host'), ['0.0.0.0'])
  t.same(flag('--redis'), ['redis://redis:6379'])
  t.same(flag('--origin').sort(), ['http://127.0.0.1:3000', 'http://localhost:3000'])
  const deps = rt?.depends_on
  t.ok(Array.isArray(deps) ? deps.includes('redis') : deps?.redis !== undefined, 'depends on redis')
  t.match(words(rt?.healthcheck?.test).join(' '), 'http://127.0.0.1:8080/healthz')
})

t.test('the Dockerfile builds on node:20-bookworm-slim with npm ci and runs as a non-root user', async (t) => {
  // Instructions with their continuation lines joined; comments dropped.
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ').split('\n')
    .map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const froms = lines.filter((l) => /^FROM\s/i.test(l))
  t.ok(froms.length > 0)
  for (const from of froms) t.match(from, /^FROM node:20-bookworm-slim\b/)
  t.ok(lines.some((l) => /^RUN npm ci\b/.test(l)), 'npm ci')
  t.ok(lines.some((l) => /^RUN npm run build\b/.test(l)), 'npm run build')
  // The final stage (after the last FROM) must switch to a non-root user before CMD.
  const last = lines.slice(lines.lastIndexOf(froms.at(-1) ?? ''))
  const users = last.filter((l) => /^USER\s/i.test(l)).map((l) => l.split(/\s+/)[1] ?? '')
  t.ok(users.length > 0, 'the final stage sets USER')
  const user = users.at(-1) ?? ''
  t.notOk(/^(root|0)(:|$)/.test(user), `USER ${user} is not root`)
  const cmd = last.find((l) => /^CMD\s/i.test(l))
  t.ok(cmd !== undefined && last.indexOf(cmd) > last.findIndex((l) => /^USER\s/i.test(l)), 'CMD runs after USER')
  t.same(JSON.parse(cmd?.replace(/^CMD\s+/, '') ?? '[]'), ['node', 'demo/run.js'])
})

t.test('.dockerignore keeps local builds and dependencies out of the image', async (t) => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim())
  for (const p of ['node_modules', 'dist', '.git']) t.ok(ignored.includes(p), p)
})
