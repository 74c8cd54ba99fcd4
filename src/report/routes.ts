// Admin routes for the activity report and the all-users export (registered in the admin scope,
// so isAdmin guards them). The per-user export, `/api/logs/<user>/export`, is answered through
// the logs route (src/admin/api.ts), which owns the `/api/logs/*` path.
import type { FastifyInstance } from 'fastify'
import type { PluginContext } from '../context.js'
import { boundedCount, countSchema } from '../shared/http.js'
import { DayClock } from './days.js'
import { buildReport } from './report.js'
import { makeExports } from './export.js'

export const MAX_REPORT_DAYS = 31

export async function reportApi (app: FastifyInstance, ctx: PluginContext): Promise<void> {
  const clock = new DayClock(ctx.settings.timeZone)
  const { exportAll } = makeExports(ctx)

  app.get<{ Querystring: { days?: string } }>('/api/report', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { days: countSchema(MAX_REPORT_DAYS) }
      }
    }
  }, async (req) => {
    const days = boundedCount(req.query.days, 7, 1, MAX_REPORT_DAYS, 'days')
    return await buildReport(ctx.client, ctx.keys, clock, days)
  })

  // Query string validated by exportOptions (shared with the per-user export).
  app.get('/api/export', async (req, reply) => await exportAll(req, reply))
}
