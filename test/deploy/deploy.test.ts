// docker-compose.prod.yml, deploy/nginx.conf and the Dockerfile describe the production layout the
// README documents: Redis (or a 3-node cluster profile), the app, two realtime replicas behind one
// nginx proxy that upgrades /live to WebSocket, health checks, and a non-root image without dev
// dependencies. No Docker engine is needed: the files are parsed.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ROOT } from '../helpers/demo-build.js'
import { parseCli } from '../../src/cli/args.js'
import { parseSeeds } from '../../src/shared/redis.js'

interface Service {
  image?: string
  build?: string | { context: string }
  command?: string[] | string
  entrypoint?: string[] | string
  environment?: Record<string, string>
  ports?: string[]
  expose?: string[]
  profiles?: string[]
  volumes?: string[]
  depends_on?: Record<string, { condition?: string }>
  healthcheck?: { test: string[] }
}

const compose = parse(readFileSync(join(ROOT, 'docker-compose.prod.yml'), 'utf8'), { merge: true }) as
  { services: Record<string, Service> }
const services = compose.services
const nginx = readFileSync(join(ROOT, 'deploy', 'nginx.conf'), 'utf8')
  .split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter((l) => l !== '').join('\n')

/** ${VAR:-default} → default, as compose does with the variable unset. */
function defaults (s: string): string { return s.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1') }

/** nginx blocks `name args { … }` (one level of nesting is enough here). */
function block (head: RegExp): string {
  const m = head.exec(nginx)
  if (m === null) return ''
  let depth = 0
  for (let i = m.index; i < nginx.length; i++) {
    if (nginx[i] === '{') depth++
    if (nginx[i] === '}' && --depth === 0) return nginx.slice(m.index, i + 1)
  }
  return ''
}

t.test('services: redis, a cluster profile, the app, two realtime replicas and the proxy', async (t) => {
  t.same(Object.keys(services).sort(), ['app', 'proxy', 'realtime-1', 'realtime-2', 'redis', 'redis-cluster-init',
    'redis-node-1', 'redis-node-2', 'redis-node-3'])
  t.match(services.redis?.image, /^redis:7/)
  t.equal(services.redis?.profiles, undefined, 'the single Redis starts by default')
  for (const n of ['redis-node-1', 'redis-node-2', 'redis-node-3']) {
    const s = services[n]
    t.same(s?.profiles, ['cluster'], `${n} is in the cluster profile`)
    t.ok(s?.command?.includes('--cluster-enabled'), `${n} is a cluster node`)
    t.ok(s?.healthcheck !== undefined)
  }
  const init = services['redis-cluster-init']
  t.same(init?.profiles, ['cluster'])
  t.match((init?.entrypoint as string[]).join(' '), /redis-cli --cluster create .*redis-node-1.*redis-node-2.*redis-node-3.*--cluster-yes/)
  // Only the proxy is published, on the loopback interface.
  for (const [name, s] of Object.entries(services)) {
    if (name === 'proxy') t.same(s.ports, ['127.0.0.1:8000:80'])
    else t.equal(s.ports, undefined, `${name} is not published`)
  }
})

t.test('the app and both replicas are built from the Dockerfile and health-checked', async (t) => {
  const image = services.app?.image
  for (const name of ['app', 'realtime-1', 'realtime-2']) {
    const s = services[name]
    t.ok(s?.build === '.', `${name} is built from the repository's Dockerfile`)
    t.equal(s?.image, image, `${name}: one image`)
    t.equal(s?.depends_on?.redis?.condition, 'service_healthy')
  }
  t.match(services.app?.healthcheck?.test.join(' '), 'http://127.0.0.1:3000/')
  t.equal(defaults(services.app?.environment?.REALTIME_URL ?? ''), 'ws://localhost:8000/live', 'the admin page connects through the proxy')
  for (const name of ['realtime-1', 'realtime-2']) {
    const s = services[name]
    t.match(s?.healthcheck?.test.join(' '), 'http://127.0.0.1:8080/healthz')
    t.same(s?.expose, ['8080'])
    const cmd = s?.command as string[]
    t.same(cmd.slice(0, 3), ['node', 'dist/cli/main.js', 'realtime'])
    // The command and its environment are a valid `userlog realtime`, on a single node and on the cluster.
    const env = Object.fromEntries(Object.entries(s?.environment ?? {}).map(([k, v]) => [k, defaults(v)]))
    t.match(parseCli(cmd.slice(2), env), { command: 'realtime', host: '0.0.0.0', port: 8080, redis: 'redis://redis:6379', origins: ['http://localhost:8000'] })
  }
  const clusterUrl = /REDIS_URL=(\S+)/.exec(readFileSync(join(ROOT, 'docker-compose.prod.yml'), 'utf8'))?.[1] ?? ''
  t.same(parseSeeds(clusterUrl)?.nodes.map((n) => n.host), ['redis-node-1', 'redis-node-2', 'redis-node-3'],
    'the documented cluster seed list parses')
  t.match(parseCli((services['realtime-1']?.command as string[]).slice(2), { REDIS_URL: clusterUrl }),
    { redis: clusterUrl })
})

t.test('the proxy waits for healthy backends, has its own health check and mounts deploy/nginx.conf', async (t) => {
  const proxy = services.proxy
  t.match(proxy?.image, /^nginx:/)
  t.same(proxy?.volumes, ['./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro'])
  for (const dep of ['app', 'realtime-1', 'realtime-2']) {
    t.equal(proxy?.depends_on?.[dep]?.condition, 'service_healthy', dep)
  }
  t.match(proxy?.healthcheck?.test.join(' '), 'http://127.0.0.1/healthz')
  t.match(block(/location = \/healthz\s*\{/), /return 200/)
})

t.test('nginx: /live to both replicas with the WebSocket upgrade headers, / to the app', async (t) => {
  const upstream = block(/upstream userlog_realtime\s*\{/)
  t.match(upstream, /server realtime-1:8080\b/)
  t.match(upstream, /server realtime-2:8080\b/)
  t.match(block(/upstream userlog_app\s*\{/), /server app:3000\b/)
  t.match(block(/map \$http_upgrade \$connection_upgrade\s*\{/), /default\s+upgrade;\s+''\s+close;/)
  const live = block(/location = \/live\s*\{/)
  t.match(live, /proxy_pass http:\/\/userlog_realtime;/)
  t.match(live, /proxy_http_version 1\.1;/)
  t.match(live, /proxy_set_header Upgrade \$http_upgrade;/)
  t.match(live, /proxy_set_header Connection \$connection_upgrade;/)
  t.match(live, /proxy_set_header Host \$http_host;/, 'the realtime server sees the browser\'s Host (same-host Origin check)')
  const timeout = /proxy_read_timeout (\d+)(s|m|h)?;/.exec(live)
  t.ok(timeout !== null && Number(timeout[1]) * ({ s: 1, m: 60, h: 3600 }[timeout[2] ?? 's'] ?? 1) > 30,
    'idle live views outlast the 30 s ping')
  const root = block(/location \/\s*\{/)
  t.match(root, /proxy_pass http:\/\/userlog_app;/)
  t.match(root, /proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/)
})

t.test('the Dockerfile: the runtime stage installs without dev dependencies and runs as a non-root user', async (t) => {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ').split('\n')
    .map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'))
  const lastFrom = lines.findLastIndex((l) => /^FROM\s/i.test(l))
  const runtime = lines.slice(lastFrom)
  t.ok(runtime.some((l) => /^RUN npm ci\b.*--omit=dev\b/.test(l)), 'npm ci --omit=dev in the runtime stage')
  t.notOk(runtime.some((l) => /^RUN npm (install|i)\b/.test(l)), 'no npm install')
  const user = runtime.filter((l) => /^USER\s/i.test(l)).at(-1)?.split(/\s+/)[1] ?? 'root'
  t.notOk(/^(root|0)(:|$)/.test(user), `USER ${user}`)
  t.ok(runtime.some((l) => /^COPY --from=build \/app\/dist\b/.test(l)), 'the compiled dist/ from the build stage')
})
