// The command line of `userlog`, parsed by a pure function: argv and environment in, a command
// (or a UsageError) out. Nothing here reads process state or exits, so it can be tested and fuzzed
// in-process.
import { parseArgs } from 'node:util'
import { PREFIX, PREFIX_EXPECTED, ROUTE_PATH } from '../shared/checks.js'
import { normalizeOrigin } from '../shared/origin.js'
import { redisUrlProblem } from '../shared/redis.js'
import { filters, type Filter } from '../shared/view-rules.js'

export type Command =
  | { command: 'help', topic: 'main' | 'realtime' | 'tail' }
  | { command: 'version' }
  | RealtimeCommand
  | TailCommand

export interface RealtimeCommand {
  command: 'realtime'
  port: number
  host: string
  redis: string
  path: string
  origins: string[]
  prefix: string
  logLevel: string
  /** A PEM file of the CA that signed Redis's TLS certificate, or null for Node's own CAs. */
  tlsCa: string | null
}

export interface TailCommand {
  command: 'tail'
  /** The user to follow, or null for every user (`--all`). */
  user: string | null
  redis: string
  prefix: string
  json: boolean
  tlsCa: string | null
  /** Which entries are printed (`--kind`, `--status`, `--method`, `--path`); presence lines always are. */
  filter: Filter
}

/** A mistake on the command line: the message says what is wrong; the exit code is 2. */
export class UsageError extends Error {
  readonly exitCode = 2
  constructor (message: string, readonly topic: 'main' | 'realtime' | 'tail' = 'main') {
    super(message)
    this.name = 'UsageError'
  }
}

export const HELP = {
  main: `Usage: userlog <command> [options]

Commands:
  realtime           run the realtime server (WebSocket live view, /healthz, /metrics)
  tail <user>        print a user's recent log, then new entries as they come
  tail --all         print every user's new entries as they come

Options:
  -h, --help         show help (also: userlog <command> --help)
  -v, --version      print the version

Environment: REDIS_URL (default redis://127.0.0.1:6379), USERLOG_ORIGINS, LOG_LEVEL.
`,
  realtime: `Usage: userlog realtime [options]

Runs the realtime server: GET <path> (WebSocket), GET /healthz, GET /metrics.

Options:
  --port <n>         port to listen on (default 8080)
  --host <addr>      address to listen on (default 127.0.0.1; 0.0.0.0 for every interface)
  --redis <url>      Redis URL (default $REDIS_URL or redis://127.0.0.1:6379); for a Redis
                     Cluster, comma-separated seed URLs: redis://h1:7000,redis://h2:7000
  --path <path>      path of the WebSocket route (default /live)
  --origin <url>     a browser origin allowed to connect, e.g. https://app.example.com;
                     repeat for several (default: $USERLOG_ORIGINS, a comma-separated list;
                     without any, only same-host pages and non-browser clients may connect)
  --prefix <p>       Redis key prefix, the same as the plugin's (default userlog)
  --tls-ca <file>    PEM file of the CA that signed Redis's certificate (rediss:// URLs;
                     default: Node's CAs and NODE_EXTRA_CA_CERTS)
  --log-level <l>    fatal, error, warn, info, debug or trace (default $LOG_LEVEL or info)
  -h, --help         show this help

Logs are JSON lines (pino) on stdout. SIGTERM or SIGINT closes viewers with 1001 and quits Redis.
`,
  tail: `Usage: userlog tail <user> [options]
       userlog tail --all [options]

Prints the user's recent log (oldest first), then each new entry as it is written, one line
per entry: time, user, kind, method, status, path, ms. --all follows every user (new entries only).
Whenever a user's presence changes (active, away, gone: from their browser's events) a line
says so: time, user, "presence", the state, the page.
A user name starting with "-" goes after "--": userlog tail -- -bob

Options:
  --all              follow every user
  --redis <url>      Redis URL (default $REDIS_URL or redis://127.0.0.1:6379); for a Redis
                     Cluster, comma-separated seed URLs: redis://h1:7000,redis://h2:7000
  --prefix <p>       Redis key prefix, the same as the plugin's (default userlog)
  --tls-ca <file>    PEM file of the CA that signed Redis's certificate (rediss:// URLs)
  --kind <list>      only these kinds, comma-separated: request, pageview, interaction,
                     error (errors and failed requests in the browser), heartbeat,
                     session_end (page leaves), other
  --status <list>    only these status classes: 2xx, 3xx, 4xx, 5xx
  --method <list>    only these HTTP methods: GET,POST
  --path <text>      only entries whose path (or route, or failed URL) contains this text
  --json             print each entry as one JSON line instead (presence: {"type":"presence",…})
  -h, --help         show this help
`
} as const

type Spec = Record<string, { type: 'string' | 'boolean', short?: string, multiple?: boolean }>

const COMMON: Spec = { help: { type: 'boolean', short: 'h' } }
const SPECS = {
  main: { ...COMMON, version: { type: 'boolean', short: 'v' } },
  realtime: {
    ...COMMON,
    port: { type: 'string' },
    host: { type: 'string' },
    redis: { type: 'string' },
    path: { type: 'string' },
    origin: { type: 'string', multiple: true },
    prefix: { type: 'string' },
    'tls-ca': { type: 'string' },
    'log-level': { type: 'string' }
  },
  tail: {
    ...COMMON,
    all: { type: 'boolean' },
    redis: { type: 'string' },
    prefix: { type: 'string' },
    'tls-ca': { type: 'string' },
    json: { type: 'boolean' },
    kind: { type: 'string' },
    status: { type: 'string' },
    method: { type: 'string' },
    path: { type: 'string' }
  }
} satisfies Record<string, Spec>

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

interface Parsed { values: Map<string, string[] | true>, positionals: string[] }

/** parseArgs in its lenient mode, then strict checks with messages of our own. */
function parse (args: string[], spec: Spec, topic: 'main' | 'realtime' | 'tail'): Parsed {
  let tokens: ReturnType<typeof parseArgs>['tokens']
  try {
    ({ tokens } = parseArgs({ args, options: spec, allowPositionals: true, strict: false, tokens: true }))
  } catch (err) {
    const command = topic === 'main' ? 'userlog' : `userlog ${topic}`
    throw new UsageError(`${command}: ${err instanceof Error ? err.message : String(err)}`, topic)
  }
  const values = new Map<string, string[] | true>()
  const positionals: string[] = []
  const where = topic === 'main' ? 'userlog' : `userlog ${topic}`
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value)
      continue
    }
    if (token.kind !== 'option') continue
    const def = spec[token.name]
    if (def === undefined) throw new UsageError(`${where}: unknown option ${printable(token.rawName)}`, topic)
    if (def.type === 'boolean') {
      if (token.inlineValue === true) throw new UsageError(`${where}: option ${token.rawName} takes no value`, topic)
      values.set(token.name, true)
      continue
    }
    if (token.value === undefined) throw new UsageError(`${where}: option ${token.rawName} needs a value`, topic)
    // `--host --port 1` is a forgotten value, not a host named "--port" (write --host=-x for that).
    if (token.inlineValue === false && token.value.startsWith('-')) {
      throw new UsageError(
        `${where}: option ${token.rawName} needs a value (got the option ${printable(token.value)})`, topic
      )
    }
    const prev = values.get(token.name)
    if (prev !== undefined && def.multiple !== true) {
      throw new UsageError(`${where}: option --${token.name} given twice`, topic)
    }
    values.set(token.name, Array.isArray(prev) ? [...prev, token.value] : [token.value])
  }
  return { values, positionals }
}

function printable (s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?')
  return clean.length > 40 ? clean.slice(0, 40) + '…' : clean
}

function one (p: Parsed, name: string): string | undefined {
  const v = p.values.get(name)
  return Array.isArray(v) ? v[0] : undefined
}

function redisUrl (p: Parsed, env: Record<string, string | undefined>, topic: 'realtime' | 'tail'): string {
  const v = one(p, 'redis') ?? env.REDIS_URL ?? 'redis://127.0.0.1:6379'
  const problem = redisUrlProblem(v)
  if (problem !== null) {
    throw new UsageError(`userlog ${topic}: --redis must be a redis:// or rediss:// URL, or comma-separated cluster seed URLs (${printable(problem)}; got ${printable(v)})`, topic)
  }
  return v
}

function prefixOf (p: Parsed, topic: 'realtime' | 'tail'): string {
  const v = one(p, 'prefix') ?? 'userlog'
  if (!PREFIX.test(v)) {
    throw new UsageError(`userlog ${topic}: --prefix must be ${PREFIX_EXPECTED} (got ${printable(v)})`, topic)
  }
  return v
}

function realtime (args: string[], env: Record<string, string | undefined>): Command {
  const p = parse(args, SPECS.realtime, 'realtime')
  if (p.values.has('help')) return { command: 'help', topic: 'realtime' }
  if (p.positionals.length > 0) {
    throw new UsageError(`userlog realtime: unexpected argument ${printable(p.positionals[0] as string)}`, 'realtime')
  }

  const portText = one(p, 'port') ?? '8080'
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new UsageError(
      `userlog realtime: --port must be a number from 0 to 65535 (got ${printable(portText)})`, 'realtime'
    )
  }
  const host = one(p, 'host') ?? '127.0.0.1'
  if (!/^[A-Za-z0-9.:[\]%_-]{1,255}$/.test(host)) throw new UsageError(`userlog realtime: --host must be a host name or address (got ${printable(host)})`, 'realtime')
  const path = one(p, 'path') ?? '/live'
  if (!ROUTE_PATH.test(path) || path === '/healthz' || path === '/metrics') {
    throw new UsageError(`userlog realtime: --path must look like /live (got ${printable(path)})`, 'realtime')
  }

  const given = p.values.get('origin')
  const rawOrigins = Array.isArray(given)
    ? given
    : (env.USERLOG_ORIGINS ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  const origins: string[] = []
  for (const o of rawOrigins) {
    const origin = normalizeOrigin(o)
    if (origin === null) {
      const from = Array.isArray(given) ? '--origin' : 'USERLOG_ORIGINS'
      throw new UsageError(`userlog realtime: ${from} must list origins like https://app.example.com (scheme, host, optional port; got ${printable(o)})`, 'realtime')
    }
    if (!origins.includes(origin)) origins.push(origin)
  }

  const logLevel = one(p, 'log-level') ?? env.LOG_LEVEL ?? 'info'
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(
      `userlog realtime: --log-level must be one of ${LOG_LEVELS.join(', ')} (got ${printable(logLevel)})`, 'realtime'
    )
  }

  return {
    command: 'realtime',
    port: Number(portText),
    host,
    redis: redisUrl(p, env, 'realtime'),
    path,
    origins,
    prefix: prefixOf(p, 'realtime'),
    tlsCa: one(p, 'tls-ca') ?? null,
    logLevel
  }
}

function tail (args: string[], env: Record<string, string | undefined>): Command {
  const p = parse(args, SPECS.tail, 'tail')
  if (p.values.has('help')) return { command: 'help', topic: 'tail' }
  const all = p.values.has('all')
  if (p.positionals.length > 1) {
    throw new UsageError(`userlog tail: one user at a time (got ${p.positionals.length} arguments)`, 'tail')
  }
  const user = p.positionals[0]
  if (all && user !== undefined) throw new UsageError('userlog tail: give a user or --all, not both', 'tail')
  if (!all && user === undefined) throw new UsageError('userlog tail: which user? (or --all for everyone)', 'tail')
  if (user === '') throw new UsageError('userlog tail: the user name is empty', 'tail')
  if (user === '*') throw new UsageError('userlog tail: "*" is not a user here; use --all to follow everyone', 'tail')
  const parsed = filters.parseFilter({
    kind: one(p, 'kind'), status: one(p, 'status'), method: one(p, 'method'), q: one(p, 'path')
  })
  if (parsed.error !== null) {
    // The rule names the field as the log API does (`q` is `--path` here).
    throw new UsageError(`userlog tail: --${parsed.error.replace(/^q:/, 'path:')}`, 'tail')
  }
  return {
    command: 'tail',
    user: all ? null : user as string,
    redis: redisUrl(p, env, 'tail'),
    prefix: prefixOf(p, 'tail'),
    json: p.values.has('json'),
    tlsCa: one(p, 'tls-ca') ?? null,
    filter: parsed.filter
  }
}

/**
 * Parses `userlog`'s arguments (without the node and script paths). Throws {@link UsageError}
 * for anything it does not understand; never throws anything else.
 */
export function parseCli (argv: readonly string[], env: Record<string, string | undefined> = {}): Command {
  const [first, ...rest] = argv
  if (first === 'realtime') return realtime(rest, env)
  if (first === 'tail') return tail(rest, env)
  if (first === 'help') {
    if (rest.length === 0) return { command: 'help', topic: 'main' }
    const [topic, ...extra] = rest
    if (extra.length === 0 && (topic === 'realtime' || topic === 'tail')) return { command: 'help', topic }
    throw new UsageError(`userlog help: no help on ${printable(rest.join(' '))} (commands: realtime, tail)`)
  }
  const p = parse([...argv], SPECS.main, 'main')
  if (p.values.has('help')) return { command: 'help', topic: 'main' }
  if (p.values.has('version')) return { command: 'version' }
  if (p.positionals.length > 0) {
    throw new UsageError(`userlog: unknown command ${printable(p.positionals[0] as string)} (commands: realtime, tail)`)
  }
  throw new UsageError('userlog: which command? (realtime or tail)')
}
