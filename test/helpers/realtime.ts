// Helpers of the realtime tests: a realtime server on a free port, live tokens, a writer that
// pushes and publishes exactly as the request-logging plugin does (atomically: list and channels
// in one MULTI), and a WebSocket client that records what it receives.
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import { WebSocket } from 'ws'
import type { Redis } from 'ioredis'
import { Keys } from '../../src/shared/keys.js'
import { userlogRealtime, type RealtimeOptions } from '../../src/realtime/index.js'

export const keys = new Keys('userlog')

export interface LogLine { level: number, msg: string, [k: string]: unknown }

export interface Server {
  app: FastifyInstance
  url: string
  http: string
  logs: LogLine[]
}

export async function startServer (opts: RealtimeOptions): Promise<Server> {
  const logs: LogLine[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as LogLine)
      cb()
    }
  })
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(userlogRealtime, opts)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : 0
  return { app, url: `ws://127.0.0.1:${port}${opts.path ?? '/live'}`, http: `http://127.0.0.1:${port}`, logs }
}

export async function mint (db: Redis, user: string, prefix = 'userlog'): Promise<string> {
  const token = randomBytes(18).toString('base64url')
  await db.set(new Keys(prefix).token(token), JSON.stringify({ user, admin: 'root' }), 'EX', 30)
  return token
}

export interface TestEntry { id: string, t: number, user: string, kind: string, path: string, [k: string]: unknown }

let seq = 0
export function entry (user: string, extra: Record<string, unknown> = {}): TestEntry {
  seq++
  return {
    id: `e${seq}-${randomBytes(3).toString('hex')}`,
    t: Date.now(),
    user,
    kind: 'request',
    method: 'GET',
    path: `/p/${seq}`,
    status: 200,
    ms: 1.5,
    ...extra
  }
}

/**
 * Writes a batch as the plugin does: LPUSH (newest first), LTRIM to the cap, one message per user
 * channel and one on the all-users channel.
 */
export async function write (db: Redis, entries: TestEntry[], maxEntries = 100): Promise<void> {
  const byUser = new Map<string, TestEntry[]>()
  for (const e of entries) {
    const list = byUser.get(e.user) ?? []
    list.push(e)
    byUser.set(e.user, list)
  }
  const m = db.multi()
  for (const [user, list] of byUser) {
    m.lpush(keys.log(user), ...list.map((e) => JSON.stringify(e)))
    m.ltrim(keys.log(user), 0, maxEntries - 1)
    m.publish(keys.userChannel(user), JSON.stringify(list))
  }
  m.publish(keys.allChannel, JSON.stringify(entries))
  await m.exec()
}

export type Msg = { type: string, [k: string]: unknown }

export class Client {
  readonly messages: Msg[] = []
  readonly closed: Promise<{ code: number, reason: string }>
  closeInfo: { code: number, reason: string } | null = null
  private listeners: Array<() => void> = []

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      // binaryType is the default 'nodebuffer': every message is one Buffer.
      this.messages.push(JSON.parse((data as Buffer).toString('utf8')) as Msg)
      for (const l of this.listeners) l()
    })
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString() }
      resolve(this.closeInfo)
      for (const l of this.listeners) l()
    }))
  }

  static async open (url: string, headers: Record<string, string> = {}): Promise<Client> {
    const ws = new WebSocket(url, { headers })
    const client = new Client(ws)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)))
    })
    return client
  }

  /** Opens a socket and sends a token; resolves once the hello arrived. */
  static async viewer (url: string, token: string): Promise<Client> {
    const c = await Client.open(url)
    c.send({ token })
    await c.until((ms) => ms.some((m) => m.type === 'hello'))
    return c
  }

  send (msg: unknown): void { this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg)) }

  /** Waits until `check(messages)` holds; fails after `ms`. */
  async until (check: (ms: Msg[]) => boolean, ms = 10_000, what = 'condition'): Promise<void> {
    if (check(this.messages)) return
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        done()
        const got = JSON.stringify(this.messages.map((m) => m.type))
        reject(new Error(`timed out waiting for ${what}; got ${got}, closed: ${JSON.stringify(this.closeInfo)}`))
      }, ms)
      const listener = (): void => { if (check(this.messages)) { done(); resolve() } }
      const done = (): void => {
        clearTimeout(timer)
        this.listeners = this.listeners.filter((l) => l !== listener)
      }
      this.listeners.push(listener)
    })
  }

  /** Every entry received (backlog and live), in order. */
  entries (): TestEntry[] {
    const out: TestEntry[] = []
    for (const m of this.messages) {
      if (m.type === 'backlog' || m.type === 'entries') out.push(...(m.entries as TestEntry[]))
    }
    return out
  }

  ofType (type: string): Msg[] { return this.messages.filter((m) => m.type === type) }

  close (): void { this.ws.terminate() }
}

/** Waits until `check()` holds, polling. */
export async function eventually (
  check: () => boolean | Promise<boolean>, ms = 10_000, what = 'condition'
): Promise<void> {
  const deadline = Date.now() + ms
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Opens a WebSocket and reports the HTTP status of a refused upgrade (or 101). */
export async function upgradeStatus (url: string, headers: Record<string, string>): Promise<number> {
  const ws = new WebSocket(url, { headers })
  return await new Promise((resolve) => {
    ws.once('open', () => { ws.terminate(); resolve(101) })
    ws.once('unexpected-response', (_req, res) => { res.resume(); ws.terminate(); resolve(res.statusCode ?? 0) })
    ws.once('error', () => resolve(0))
  })
}
