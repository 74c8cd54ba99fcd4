// HTTP helpers of the plugin's routes: one JSON error shape for every route ({ error, message }
// with the right status: bad input is a 4xx, an unreachable Redis a 503, nothing the client sends
// can make a 500), the 400 for input a schema cannot check, and the user named by a path.
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { isRedisFull, isRedisUnavailable } from './redis.js'
import { MAX_USER } from './users.js'

/** A 400 with this message, for a check a JSON schema cannot express. */
export function badRequest (message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 })
}

/**
 * The user named by the path after `base` (e.g. `/api/logs/` + user + `/export`). Read from the
 * raw URL rather than a `:user` parameter because the host's router caps parameters at
 * `maxParamLength` (100 by default) while user names may be up to MAX_USER long, and because a
 * '/' in a name arrives encoded as %2F and must stay one segment.
 */
export function userFromPath (req: FastifyRequest, base: string, suffix = ''): string | null {
  const url = req.url
  const q = url.indexOf('?')
  const path = q === -1 ? url : url.slice(0, q)
  const start = path.indexOf(base)
  if (start === -1) return null
  let rest = path.slice(start + base.length)
  if (suffix !== '') {
    if (!rest.endsWith(suffix)) return null
    rest = rest.slice(0, -suffix.length)
  }
  if (rest === '' || rest.includes('/')) return null
  let user: string
  try { user = decodeURIComponent(rest) } catch { throw badRequest('params/user must be a valid percent-encoded name') }
  if (user.length > MAX_USER) throw badRequest(`params/user must NOT have more than ${MAX_USER} characters`)
  return user
}

/** Parses a schema-validated count and checks its range, answering 400 outside it. */
export function boundedCount (value: string | undefined, def: number, min: number, max: number, name: string): number {
  if (value === undefined) return def
  const n = Number(value)
  if (n < min || n > max) throw badRequest(`querystring/${name} must be from ${min} to ${max}`)
  return n
}

/** The query-string schema of a count up to `max` (the plugin's Ajv never coerces, so it is a string). */
export function countSchema (max: number): { type: 'string', pattern: string } {
  return { type: 'string', pattern: `^[0-9]{1,${String(max).length}}$` }
}

export function sendError (
  statusCode: number, message: string
): { statusCode: number, body: { error: string, message: string } } {
  return { statusCode, body: { error: STATUS_CODES[statusCode] ?? 'Error', message } }
}

export function installErrorHandling (scope: FastifyInstance): void {
  scope.setErrorHandler((err: FastifyError, req, reply) => {
    let status = 500
    let message = 'Internal Server Error'
    if (err.validation !== undefined) {
      status = 400
      message = err.message
    } else if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
      status = err.statusCode
      message = err.message
    } else if (isRedisFull(err)) {
      status = 503
      message = 'Redis is out of memory (maxmemory reached); try again later'
      reply.header('Retry-After', '30')
    } else if (isRedisUnavailable(err)) {
      status = 503
      message = 'Redis is unavailable; try again shortly'
      reply.header('Retry-After', '5')
    } else {
      req.log.error({ err }, 'fastify-userlog: request failed')
    }
    const { statusCode, body } = sendError(status, message)
    void reply.code(statusCode).type('application/json; charset=utf-8').send(body)
  })
  scope.setNotFoundHandler((req, reply) => {
    const { statusCode, body } = sendError(404, `Route ${req.method}:${req.url.split('?')[0] ?? ''} not found`)
    void reply.code(statusCode).send(body)
  })
}
