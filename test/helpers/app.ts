// A host app for tests: the user comes from the `x-user` header, `admin` is the admin.
import { request } from 'node:http'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import { userlog, type UserlogOptions } from '../../src/index.js'

export const asUser = (user: string): Record<string, string> => ({ 'x-user': encodeURIComponent(user) })
export const asAdmin = asUser('admin')

/** The user of a test request: the `x-user` header, or the `testuser` cookie a browser test sets. */
export function userFromHeader (req: FastifyRequest): string | undefined {
  const h = req.headers['x-user']
  if (typeof h === 'string') return decodeURIComponent(h)
  const cookie = /(?:^|;\s*)testuser=([^;]*)/.exec(req.headers.cookie ?? '')
  return cookie?.[1] !== undefined ? decodeURIComponent(cookie[1]) : undefined
}

export interface TestApp { app: FastifyInstance, logs: Array<Record<string, unknown>> }

/**
 * Builds (not listening) an app with the plugin and a few routes; `logs` collects its pino output.
 * `before` registers what the host has before the plugin (another plugin, a hook).
 */
export async function buildApp (
  options: UserlogOptions, routes?: (app: FastifyInstance) => void, before?: (app: FastifyInstance) => Promise<void>
): Promise<TestApp> {
  const logs: Array<Record<string, unknown>> = []
  const stream = { write: (line: string) => { logs.push(JSON.parse(line) as Record<string, unknown>) } }
  const app = Fastify({ logger: { level: 'info', stream } })
  await before?.(app)
  await app.register(userlog, {
    getUser: userFromHeader,
    isAdmin: (req) => userFromHeader(req) === 'admin',
    ...options
  })
  app.get('/hello', async () => ({ hello: 'world' }))
  app.get('/items/:id', async () => ({ ok: true }))
  app.post('/items', async (req) => ({ got: req.body }))
  app.get('/quiet', { config: { userlog: false } }, async () => 'not logged')
  routes?.(app)
  await app.ready()
  return { app, logs }
}

/**
 * A request by `user` to the app on `port` with a raw path and user agent, as a browser of theirs
 * could send them (the HTTP parser is lenient, so hostile paths reach the app as written).
 */
export async function rawVisit (port: number, user: string, path: string, ua = 'Test'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const headers = { ...asUser(user), 'user-agent': ua }
    const req = request({ port, path, headers, insecureHTTPParser: true }, (res) => {
      res.resume()
      res.on('end', resolve)
    })
    req.on('error', reject)
    req.end()
  })
}
