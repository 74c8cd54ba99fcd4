// Admin routes for the report, exports and the audit trail.
import type { FastifyInstance } from 'fastify'
import type { PluginContext } from '../context.js'

export async function reportApi (_app: FastifyInstance, _ctx: PluginContext): Promise<void> {
  // Filled in by the reports feature.
}
