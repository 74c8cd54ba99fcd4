// Admin routes for the activity report and the all-users export (registered in the admin scope,
// so isAdmin guards them). The per-user export, `/api/logs/<user>/export`, is answered through
// the logs route (src/admin/api.ts), which owns the `/api/logs/*` path.
import type { FastifyInstance } from 'fastify'
import type { PluginContext } from '../context.js'
import { boundedCount, countSchema } from '../shared/http.js'
import { DayClock } from './days.js'
import { buildReport, type Report } from './report.js'
import { makeExports } from './export.js'
import { timeOnPageCsv } from './time-on-page.js'

export const MAX_REPORT_DAYS = 31

export async function reportApi (app: FastifyInstance, ctx: PluginContext): Promise<void> {
  const clock = new DayClock(ctx.settings.timeZone)
  const { exportAll } = makeExports(ctx)
  const daysQuery = {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { days: countSchema(MAX_REPORT_DAYS) }
      }
    }
  }
  type DaysQuery = { Querystring: { days?: string } }
  const report = async (days: string | undefined): Promise<Report> =>
    await buildReport(ctx.client, ctx.keys, clock, boundedCount(days, 7, 1, MAX_REPORT_DAYS, 'days'))

  app.get<DaysQuery>('/api/report', daysQuery, async (req) => await report(req.query.days))

  // The Report tab's time-on-page table as a file: counts only, no user, so not audited.
  app.get<DaysQuery>('/api/report/time-on-page.csv', daysQuery, async (req, reply) => {
    const r = await report(req.query.days)
    return await reply
      .type('text/csv; charset=utf-8; header=present')
      .header('Content-Disposition', `attachment; filename="userlog-time-on-page-${r.from}-${r.to}.csv"`)
      .send(timeOnPageCsv(r.timeOnPage))
  })

  // Query string validated by exportOptions (shared with the per-user export).
  app.get('/api/export', async (req, reply) => await exportAll(req, reply))
}
