// The activity report: N calendar days ending today in the configured time zone, read from the
// counters the write batches keep (counters.ts) with one pipelined round trip — never from logs.
import type { Keys } from '../shared/keys.js'
import type { RedisLike } from '../types.js'
import { BROWSER_FAMILIES } from './browsers.js'
import { dayKeys, type DayKeys } from './counters.js'
import { daysEndingWith, type DayClock } from './days.js'
import { addSums, daySums, HEARTBEAT_MS, summarize, type PathSums, type TimeOnPage } from './time-on-page.js'

/** Entries shown per day in `pages`, `routes` and `interactionEvents`; the rest is summed into "other". */
export const TOP = 10

export interface DayReport {
  date: string
  requests: number
  pageviews: number
  interactions: number
  /** Distinct client sessions seen that day. */
  sessions: number
  /** Distinct sessions that reported their end (`session_end`) that day. */
  sessionsEnded: number
  /** Mean duration of those sessions, in whole seconds (0 if none). */
  avgSessionSeconds: number
  /** Distinct users with any entry that day. */
  users: number
  /** Client events by type. */
  events: { pageview: number, heartbeat: number, interaction: number, session_end: number }
  /** Interactions by event (click, submit…): top TOP, then "other". */
  interactionEvents: Record<string, number>
  /** Page views by path without query: top TOP, then "other". */
  pages: Record<string, number>
  /** Requests by route pattern: top TOP, then "other". */
  routes: Record<string, number>
}

export interface BrowserShare { name: string, count: number, percent: number }

export interface Report {
  timeZone: string
  from: string
  to: string
  days: DayReport[]
  /** Distinct users per browser family over the range; percents sum to exactly 100. */
  browsers: BrowserShare[]
  /** Active time per page view by path, per day and over the range (time-on-page.ts). */
  timeOnPage: TimeOnPage
  summary: {
    requests: number
    pageviews: number
    interactions: number
    sessionsEnded: number
    avgSessionSeconds: number
    /** Distinct users and sessions over the whole range (not the sum of the days). */
    users: number
    sessions: number
    /** Time (ms) of the earliest and latest entry in the range, or null without entries. */
    first: number | null
    last: number | null
  }
}

/** Top `n` fields by count (ties by name); the rest, and the stored "other", summed into "other". */
export function top (hash: Record<string, string>, n: number): Record<string, number> {
  let other = 0
  const rows: Array<[string, number]> = []
  for (const [field, value] of Object.entries(hash)) {
    const count = Number(value)
    if (field === 'other') other += count
    else rows.push([field, count])
  }
  rows.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
  for (const [, count] of rows.slice(n)) other += count
  const out = rows.slice(0, n)
  if (other > 0) out.push(['other', other])
  // fromEntries defines own properties, so a field named "__proto__" stays data.
  return Object.fromEntries(out)
}

/** Percentages with two decimals that sum to exactly 100 (largest remainder). */
export function percentages (counts: number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total === 0) return counts.map(() => 0)
  const exact = counts.map((c) => c * 10_000 / total)
  const floors = exact.map(Math.floor)
  let left = 10_000 - floors.reduce((a, b) => a + b, 0)
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1])
  for (const [, i] of order) {
    if (left <= 0) break
    floors[i] = (floors[i] as number) + 1
    left--
  }
  return floors.map((h) => h / 100)
}

const num = (v: string | undefined): number => {
  const n = Number(v ?? 0)
  return Number.isFinite(n) ? n : 0
}

export async function buildReport (
  client: RedisLike, keys: Keys, clock: DayClock, n: number, now = Date.now()
): Promise<Report> {
  const dates = daysEndingWith(clock.dayOf(now), n)
  const perDay: DayKeys[] = dates.map((day) => dayKeys(keys, day))
  const pipe = client.pipeline()
  for (const k of perDay) {
    pipe.hgetall(k.totals).hgetall(k.routes).hgetall(k.pages).hgetall(k.interactions).hmget(k.ended, '#n', '#s')
      .pfcount(k.users).pfcount(k.sessions).hgetall(k.active).hgetall(k.measured).hgetall(k.beats)
  }
  pipe.pfcount(...perDay.map((k) => k.users))
  pipe.pfcount(...perDay.map((k) => k.sessions))
  BROWSER_FAMILIES.forEach((_family, i) => pipe.pfcount(...perDay.map((k) => k.browsers[i] as string)))
  const replies = (await pipe.exec()) ?? []
  const results = replies.map(([err, value]) => {
    if (err !== null) throw err
    return value
  })

  let r = 0
  const next = <T>(): T => results[r++] as T
  const summary: Report['summary'] = {
    requests: 0, pageviews: 0, interactions: 0, sessionsEnded: 0, avgSessionSeconds: 0,
    users: 0, sessions: 0, first: null, last: null
  }
  let seconds = 0
  const rangeSums: PathSums = new Map()
  const timeDays: TimeOnPage['days'] = []
  const days = dates.map((date): DayReport => {
    const totals = next<Record<string, string>>()
    const routes = next<Record<string, string>>()
    const pages = next<Record<string, string>>()
    const interactions = next<Record<string, string>>()
    const [endedN, endedS] = next<Array<string | null>>()
    const users = next<number>()
    const sessions = next<number>()
    const active = next<Record<string, string>>()
    const measured = next<Record<string, string>>()
    const beats = next<Record<string, string>>()
    const pathSums = daySums(pages, active, measured, beats)
    addSums(rangeSums, pathSums)
    timeDays.push({ date, ...summarize(pathSums, TOP) })
    const ended = num(endedN ?? undefined)
    const daySeconds = num(endedS ?? undefined)
    const day: DayReport = {
      date,
      requests: num(totals.requests),
      pageviews: num(totals.pageview),
      interactions: num(totals.interaction),
      sessions,
      sessionsEnded: ended,
      avgSessionSeconds: ended > 0 ? Math.round(daySeconds / ended) : 0,
      users,
      events: {
        pageview: num(totals.pageview),
        heartbeat: num(totals.heartbeat),
        interaction: num(totals.interaction),
        session_end: num(totals.session_end)
      },
      interactionEvents: top(interactions, TOP),
      pages: top(pages, TOP),
      routes: top(routes, TOP)
    }
    summary.requests += day.requests
    summary.pageviews += day.pageviews
    summary.interactions += day.interactions
    summary.sessionsEnded += ended
    seconds += daySeconds
    if (totals.first !== undefined) summary.first = Math.min(summary.first ?? Infinity, num(totals.first))
    if (totals.last !== undefined) summary.last = Math.max(summary.last ?? -Infinity, num(totals.last))
    return day
  })
  summary.avgSessionSeconds = summary.sessionsEnded > 0 ? Math.round(seconds / summary.sessionsEnded) : 0
  summary.users = next<number>()
  summary.sessions = next<number>()
  const counts = BROWSER_FAMILIES.map(() => next<number>())
  const shares = percentages(counts)
  const browsers = BROWSER_FAMILIES
    .map((name, i) => ({ name, count: counts[i] as number, percent: shares[i] as number }))
    .filter((b) => b.count > 0)
    .sort((a, b) => b.count - a.count)
  const timeOnPage: TimeOnPage = { heartbeatMs: HEARTBEAT_MS, ...summarize(rangeSums, TOP), days: timeDays }
  return {
    timeZone: clock.timeZone,
    from: dates[0] as string,
    to: dates[dates.length - 1] as string,
    days,
    browsers,
    timeOnPage,
    summary
  }
}
