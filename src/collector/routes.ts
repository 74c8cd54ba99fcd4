// The public part of the plugin: tracker.js and the /events collector (client activity).
import type { FastifyInstance } from 'fastify'
import type { PluginContext } from '../context.js'

export async function collectorRoutes (_app: FastifyInstance, _ctx: PluginContext): Promise<void> {
  // Filled in by the client-activity feature.
}
