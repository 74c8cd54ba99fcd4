// One JSON error shape for every route of the plugin: { error, message } with the right status.
// Bad input is a 4xx; an unreachable Redis is a 503; nothing the client sends can make a 500.
import type { FastifyError, FastifyInstance } from 'fastify'
import { STATUS_CODES } from 'node:http'
import { isRedisUnavailable } from '../redis.js'

export function sendError (statusCode: number, message: string): { statusCode: number, body: { error: string, message: string } } {
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
