// `userlog realtime`: the realtime plugin on a Fastify of its own, logging JSON lines with pino.
import Fastify, { type FastifyInstance } from 'fastify'
import { userlogRealtime } from '../realtime/plugin.js'
import type { RealtimeCommand } from './args.js'
import { redactUrl, tlsOf } from './tail.js'

/** Builds and starts the server; resolves once it listens. */
export async function startRealtime (cmd: RealtimeCommand): Promise<FastifyInstance> {
  const app = Fastify({
    logger: { level: cmd.logLevel },
    // The WebSocket route answers plain HTTP with 404; nothing else here needs a body.
    bodyLimit: 1024
  })
  try {
    await app.register(userlogRealtime, {
      redis: cmd.redis, prefix: cmd.prefix, path: cmd.path, origins: cmd.origins, redisTls: tlsOf(cmd.tlsCa, 'realtime')
    })
    await app.listen({ port: cmd.port, host: cmd.host })
  } catch (err) {
    // The Redis connections are already open: close them, or the process would not exit.
    await app.close()
    throw err
  }
  app.log.info({
    userlog: {
      path: cmd.path,
      redis: redactUrl(cmd.redis),
      prefix: cmd.prefix,
      origins: cmd.origins.length > 0 ? cmd.origins : 'same-host pages and non-browser clients only'
    }
  }, 'userlog realtime server ready')
  return app
}
