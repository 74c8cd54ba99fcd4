// Exports of retained log entries, one user's or everyone's, as CSV (RFC 4180, formula cells
// neutralised: csv.ts) or NDJSON, optionally anonymized (anonymize.ts). Streamed: the response
// is an async generator, read user by user, so an all-users export never sits whole in memory.
// Every export is recorded in the audit trail before the first byte.
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { PluginContext } from '../context.js'
import { badRequest } from '../shared/http.js'
import type { Entry } from '../types.js'
import { Anonymizer } from './anonymize.js'
import { CSV_HEADER, entryLine } from './csv.js'
import { DayClock } from './days.js'
import { withSessionAgents } from '../collector/sessions.js'

export type ExportFormat = 'csv' | 'ndjson'
export interface ExportOptions { format: ExportFormat, anonymize: boolean }

/** Users read per round trip while walking the names index. */
const PAGE = 200
/** Bytes gathered before a chunk is handed to the socket. */
const CHUNK = 64 * 1024

const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8; header=present',
  ndjson: 'application/x-ndjson; charset=utf-8'
}

/**
 * Validates the query string (`format` = csv | ndjson, default csv; `anonymize` = true | false,
 * default false), answering 400 like the plugin's schema validation would.
 */
export function exportOptions (query: unknown, secret: string | null): ExportOptions {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>
  const errors: string[] = []
  for (const name of Object.keys(q)) {
    if (name !== 'format' && name !== 'anonymize') {
      errors.push(`querystring must NOT have additional properties (${name})`)
    }
  }
  const format = q.format ?? 'csv'
  if (format !== 'csv' && format !== 'ndjson') errors.push('querystring/format must be csv or ndjson')
  const anonymize = q.anonymize ?? 'false'
  if (anonymize !== 'true' && anonymize !== 'false') errors.push('querystring/anonymize must be true or false')
  if (errors.length > 0) throw badRequest(errors.join(', '))
  if (anonymize === 'true' && secret === null) {
    throw badRequest('anonymized exports need a secret: set the anonymizeSecret option of fastify-userlog')
  }
  return { format: format as ExportFormat, anonymize: anonymize === 'true' }
}

/** A name safe in a Content-Disposition filename on every platform. */
export function safeFilename (name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 64)
  return safe === '' ? 'user' : safe
}

/** Turns stored JSON entries (newest first, as in the log list) into export lines, oldest first. */
function * lines (raw: string[], options: ExportOptions, anonymizer: Anonymizer | null): Generator<string> {
  for (let i = raw.length - 1; i >= 0; i--) {
    const json = raw[i] as string
    if (options.format === 'ndjson' && anonymizer === null) {
      yield json + '\n'
      continue
    }
    let entry: Entry
    try { entry = JSON.parse(json) as Entry } catch { continue }
    if (anonymizer !== null) entry = anonymizer.entry(entry)
    yield options.format === 'csv' ? entryLine(entry) : JSON.stringify(entry) + '\n'
  }
}

/** Gathers small lines into chunks of about CHUNK characters. */
async function * chunked (source: AsyncIterable<string>): AsyncGenerator<string> {
  let buffer = ''
  for await (const line of source) {
    buffer += line
    if (buffer.length >= CHUNK) {
      yield buffer
      buffer = ''
    }
  }
  if (buffer !== '') yield buffer
}

export function makeExports (ctx: PluginContext) {
  const { store, keys, audit, settings } = ctx
  const clock = new DayClock(settings.timeZone)
  const client = store.client

  /** A user's retained entries, newest first, with the User-Agent of client entries joined back. */
  async function readLog (user: string): Promise<string[]> {
    return await withSessionAgents(client, keys, user, await client.lrange(keys.log(user), 0, -1))
  }

  function start (
    reply: FastifyReply, options: ExportOptions, name: string, body: AsyncIterable<string>
  ): FastifyReply {
    const suffix = options.anonymize ? '-anonymized' : ''
    const filename = `userlog-${name}-${clock.dayOf(Date.now())}${suffix}.${options.format}`
    return reply
      .type(CONTENT_TYPES[options.format])
      .header('Content-Disposition', `attachment; filename="${filename}"`)
      .send(Readable.from(chunked(body), { objectMode: false }))
  }

  /** `GET /api/logs/<user>/export`: one user's retained entries; 404 if there are none. */
  async function exportUser (req: FastifyRequest, reply: FastifyReply, user: string): Promise<FastifyReply> {
    const options = exportOptions(req.query, settings.anonymizeSecret)
    await audit.record(req, 'export', user)
    const raw = await readLog(user)
    if (raw.length === 0) return await reply.code(404).send({ error: 'Not Found', message: `No logs for ${user}` })
    const anonymizer = options.anonymize ? new Anonymizer(settings.anonymizeSecret as string) : null
    async function * body (): AsyncGenerator<string> {
      if (options.format === 'csv') yield CSV_HEADER
      yield * lines(raw, options, anonymizer)
    }
    return start(reply, options, anonymizer !== null ? anonymizer.user(user) : safeFilename(user), body())
  }

  /** `GET /api/export`: every indexed user's retained entries, user by user in name order. */
  async function exportAll (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const options = exportOptions(req.query, settings.anonymizeSecret)
    await audit.record(req, 'export', '*')
    const anonymizer = options.anonymize ? new Anonymizer(settings.anonymizeSecret as string) : null
    async function * body (): AsyncGenerator<string> {
      if (options.format === 'csv') yield CSV_HEADER
      // The names index ("lowercase\0name", all scores 0) is walked by name with an exclusive
      // lower bound: users written meanwhile neither shift the walk nor come twice.
      let from = '-'
      for (;;) {
        const members = await client.zrangebylex(keys.namesIndex, from, '+', 'LIMIT', 0, PAGE)
        for (const member of members) {
          yield * lines(await readLog(member.slice(member.indexOf('\0') + 1)), options, anonymizer)
        }
        if (members.length < PAGE) return
        from = '(' + (members[members.length - 1] as string)
      }
    }
    return start(reply, options, 'all-users', body())
  }

  return { exportUser, exportAll }
}
