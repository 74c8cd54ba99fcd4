// Time on page: how long page views of each path were active (visible and focused), from the
// counters the write batches keep (counters.ts) — never from logs.
//
// The rule, per day and path (see docs/reports.md, "Time on page"):
//   views          page views (the `pages` counter, counted at pageview)
//   measuredViews  session_end events that carried activeMs (a "measured leave")
//   activeMs       the measured leaves' activeMs, plus HEARTBEAT_MS for each heartbeat not
//                  covered by a measured leave
// A measured leave of A ms covers floor(A / HEARTBEAT_MS) heartbeats: the number the tracker
// sends while a page is active from load to leave. The counters keep, per path, heartbeats minus
// covered heartbeats (`beats`), so no heartbeat is counted on top of the leave that measured the
// same time, without remembering anything per page view. Read as at least 0 per day and path.
import type { Entry } from '../types.js'
import { csvLine } from './csv.js'

/** The tracker's default heartbeat interval: one heartbeat stands for this much active time. */
export const HEARTBEAT_MS = 15_000
/** A measured leave longer than this (a day) counts as this long. */
export const MAX_ACTIVE_MS = 86_400_000

export interface TimeOnPageCounts {
  views: number
  /** Views whose leave (session_end) reported activeMs. */
  measuredViews: number
  /** Active time: measured leaves plus heartbeats of views without one (ms). */
  activeMs: number
  /** activeMs / views, rounded (0 without views). */
  avgActiveMs: number
}

export interface TimeOnPageRow extends TimeOnPageCounts { path: string }

export interface TimeOnPageDay extends TimeOnPageCounts {
  date: string
  /** Top paths by views (ties: active time, then path), then "other". */
  pages: TimeOnPageRow[]
}

export interface TimeOnPage extends TimeOnPageCounts {
  /** Active time one uncovered heartbeat stands for. */
  heartbeatMs: number
  /** Over the range: the top paths by views, then "other". */
  pages: TimeOnPageRow[]
  days: TimeOnPageDay[]
}

/**
 * The active time a session_end reports for the page it leaves, in whole ms, or null when it
 * has none: at most its pageMs (when given) and at most MAX_ACTIVE_MS.
 */
export function measuredActiveMs (entry: Entry): number | null {
  const active = entry.activeMs
  if (typeof active !== 'number' || !Number.isFinite(active) || active < 0) return null
  const page = entry.pageMs
  const pageKnown = typeof page === 'number' && Number.isFinite(page) && page >= 0
  const limit = pageKnown ? Math.min(page, MAX_ACTIVE_MS) : MAX_ACTIVE_MS
  return Math.round(Math.min(active, limit))
}

/** Heartbeats a measured leave of `activeMs` stands in for. */
export function coveredHeartbeats (activeMs: number): number {
  return Math.floor(activeMs / HEARTBEAT_MS)
}

/** Sums kept per path while reading: views, measured views, active ms. */
type Sums = [number, number, number]
export type PathSums = Map<string, Sums>

const num = (v: string | undefined): number => {
  const n = Number(v ?? 0)
  return Number.isFinite(n) ? n : 0
}

/** One day's per-path sums from its counter hashes (each field "other" included as the path "other"). */
export function daySums (
  pages: Record<string, string>, active: Record<string, string>, measured: Record<string, string>,
  beats: Record<string, string>
): PathSums {
  const sums: PathSums = new Map()
  const at = (path: string): Sums => {
    let s = sums.get(path)
    if (s === undefined) sums.set(path, s = [0, 0, 0])
    return s
  }
  for (const [path, v] of Object.entries(pages)) at(path)[0] += num(v)
  for (const [path, v] of Object.entries(measured)) at(path)[1] += num(v)
  for (const [path, v] of Object.entries(active)) at(path)[2] += num(v)
  for (const [path, v] of Object.entries(beats)) at(path)[2] += Math.max(0, num(v)) * HEARTBEAT_MS
  return sums
}

/** Adds `from` into `into`, path by path. */
export function addSums (into: PathSums, from: PathSums): void {
  for (const [path, s] of from) {
    const cur = into.get(path)
    if (cur === undefined) into.set(path, [s[0], s[1], s[2]])
    else addTo(cur, s)
  }
}

function counts ([views, measuredViews, activeMs]: Sums): TimeOnPageCounts {
  return { views, measuredViews, activeMs, avgActiveMs: views > 0 ? Math.round(activeMs / views) : 0 }
}

/** Totals over every path, and the top `n` paths then "other" (the stored "other" included). */
export function summarize (sums: PathSums, n: number): TimeOnPageCounts & { pages: TimeOnPageRow[] } {
  const total: Sums = [0, 0, 0]
  const other: Sums = [0, 0, 0]
  const rows: Array<[string, Sums]> = []
  for (const [path, s] of sums) {
    addTo(total, s)
    if (path === 'other') addTo(other, s)
    else rows.push([path, s])
  }
  rows.sort((a, b) => b[1][0] - a[1][0] || b[1][2] - a[1][2] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  for (const [, s] of rows.slice(n)) addTo(other, s)
  const pages = rows.slice(0, n).map(([path, s]) => ({ path, ...counts(s) }))
  if (other[0] > 0 || other[1] > 0 || other[2] > 0) pages.push({ path: 'other', ...counts(other) })
  return { ...counts(total), pages }
}

function addTo (into: Sums, s: Sums): void {
  into[0] += s[0]; into[1] += s[1]; into[2] += s[2]
}

// --- CSV: the Report tab's time-on-page table, as a file ------------------------------------

export const TIME_ON_PAGE_CSV_HEADER = csvLine(['path', 'views', 'measuredViews', 'activeSeconds', 'avgActiveSeconds'])
/** The last row of the table and of its CSV: every path. */
export const ALL_PAGES = '(all pages)'

/** Seconds with one decimal, as the Report tab's table prints them. */
export function seconds (ms: number): string {
  return (ms / 1000).toFixed(1)
}

/** The CSV of the range's table: one line per row, then the all-pages line. */
export function timeOnPageCsv (report: TimeOnPage): string {
  let out = TIME_ON_PAGE_CSV_HEADER
  for (const row of [...report.pages, { ...report, path: ALL_PAGES }]) {
    out += csvLine([row.path, row.views, row.measuredViews, seconds(row.activeMs), seconds(row.avgActiveMs)])
  }
  return out
}
