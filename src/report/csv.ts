// CSV per RFC 4180 (comma, CRLF, fields quoted when they hold a comma, quote, CR or LF, quotes
// doubled) with spreadsheet formula injection neutralised: a cell that starts with = + - @, a
// tab or a CR is prefixed with a single quote, so Excel, LibreOffice and Google Sheets show it
// as text instead of evaluating it (OWASP "CSV Injection").
import type { Entry } from '../types.js'

/**
 * The columns of an export, in order. `t` is ISO 8601 (UTC); `extra` holds any other fields as JSON.
 * Columns added later come after `extra`, so the earlier ones keep their positions.
 */
export const CSV_COLUMNS = ['t', 'user', 'kind', 'src', 'method', 'path', 'route', 'status', 'ms', 'ip', 'ua',
  'event', 'element', 'metadata', 'sid', 'duration', 'referrer', 'date', 'reqId', 'id', 'extra',
  // errors, failed requests, visibility and time on page (client); WebSocket closes
  'message', 'source', 'line', 'column', 'errorType', 'stack', 'repeat', 'url', 'requestId', 'state', 'activeMs',
  'pageMs', 'durationMs', 'code', 'received', 'sent'] as const

const KNOWN = new Set<string>(CSV_COLUMNS)
const FORMULA_START = /^[=+\-@\t\r]/
const NEEDS_QUOTES = /[",\r\n]/

/** One cell: text as is (neutralised, quoted if needed), numbers and booleans printed, objects as JSON. */
export function csvCell (value: unknown): string {
  if (value === undefined || value === null) return ''
  const scalar = typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint'
  let s = typeof value === 'string' ? value : scalar ? String(value) : JSON.stringify(value) ?? ''
  if (FORMULA_START.test(s)) s = "'" + s
  return NEEDS_QUOTES.test(s) ? '"' + s.replaceAll('"', '""') + '"' : s
}

export function csvLine (cells: readonly unknown[]): string {
  let line = ''
  for (let i = 0; i < cells.length; i++) line += (i === 0 ? '' : ',') + csvCell(cells[i])
  return line + '\r\n'
}

export const CSV_HEADER = csvLine(CSV_COLUMNS)

/** The row of one entry, in CSV_COLUMNS order. */
export function entryLine (entry: Entry): string {
  let extra: Record<string, unknown> | null = null
  for (const [field, value] of Object.entries(entry)) {
    if (KNOWN.has(field)) continue
    extra ??= {}
    extra[field] = value
  }
  const t = typeof entry.t === 'number' && Number.isFinite(entry.t) ? new Date(entry.t).toISOString() : ''
  return csvLine(CSV_COLUMNS.map((column) => column === 't' ? t : column === 'extra' ? extra : entry[column]))
}
