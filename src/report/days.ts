// Calendar days in the configured time zone. Every entry of every write batch asks which day it
// belongs to, so the answer is cached as a range [start, end) of instants: an entry inside the
// cached day costs two comparisons; the boundaries are computed once per day (and per day an
// out-of-order entry falls in), with Intl, so daylight-saving days of 23 or 25 hours and zones
// whose clocks change at midnight are handled by the time-zone database, not by arithmetic.

const HOUR = 3_600_000

export interface DayRange { start: number, end: number, day: string }

/** 'YYYY-MM-DD' for a year, month (1-12) and day. */
function isoDate (y: number, m: number, d: number): string {
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`
}

/** The calendar date `n` days after `day` ('YYYY-MM-DD'; n may be negative). */
export function addDays (day: string, n: number): string {
  const date = new Date(Date.UTC(Number(day.slice(0, 4)), Number(day.slice(5, 7)) - 1, Number(day.slice(8, 10)) + n))
  return isoDate(date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate())
}

/** `n` consecutive calendar dates ending with `last`, oldest first. */
export function daysEndingWith (last: string, n: number): string[] {
  const out: string[] = []
  for (let i = n - 1; i >= 0; i--) out.push(addDays(last, -i))
  return out
}

export class DayClock {
  private readonly format: Intl.DateTimeFormat
  // The two most recent days asked for: around midnight a batch mixes entries of both.
  private a: DayRange = { start: 0, end: 0, day: '' }
  private b: DayRange = { start: 0, end: 0, day: '' }

  constructor (readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      calendar: 'gregory',
      numberingSystem: 'latn',
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric'
    })
  }

  /** The date ('YYYY-MM-DD') of instant `t` (ms) in the time zone. */
  dayOf (t: number): string {
    const a = this.a
    if (t >= a.start && t < a.end) return a.day
    const b = this.b
    if (t >= b.start && t < b.end) {
      this.b = a
      this.a = b
      return b.day
    }
    const range = this.rangeOf(t)
    this.b = a
    this.a = range
    return range.day
  }

  /** The day containing `t`: its date, its first millisecond and the first of the next day. */
  rangeOf (t: number): DayRange {
    const { day, offset } = this.wall(t)
    return { day, start: this.boundary(day, t, offset, false), end: this.boundary(addDays(day, 1), t, offset, true) }
  }

  /** Date and UTC offset (ms, wall clock minus UTC) at instant `t`. */
  private wall (t: number): { day: string, offset: number } {
    let y = 0; let mo = 0; let d = 0; let h = 0; let mi = 0; let s = 0
    for (const part of this.format.formatToParts(t)) {
      switch (part.type) {
        case 'year': y = Number(part.value); break
        case 'month': mo = Number(part.value); break
        case 'day': d = Number(part.value); break
        case 'hour': h = Number(part.value); break
        case 'minute': mi = Number(part.value); break
        case 'second': s = Number(part.value); break
      }
    }
    return { day: isoDate(y, mo, d), offset: Date.UTC(y, mo - 1, d, h, mi, s) - Math.floor(t / 1000) * 1000 }
  }

  /**
   * The first instant whose date is `target` or later, near `t`: the start of t's own day, or
   * (`after`) of the next one. First a guess from the offset at `t` (right unless the offset
   * changes in between), then the guess corrected with the offset there; if neither is the
   * boundary (a zone whose midnight does not exist that day), a binary search over 50 hours.
   */
  private boundary (target: string, t: number, offset: number, after: boolean): number {
    const midnight = Date.UTC(Number(target.slice(0, 4)), Number(target.slice(5, 7)) - 1, Number(target.slice(8, 10)))
    let guess = midnight - offset
    for (let i = 0; i < 2; i++) {
      if (this.wall(guess).day >= target && this.wall(guess - 1).day < target) return guess
      guess = midnight - this.wall(guess).offset
    }
    // Invariant: date(lo) < target <= date(hi).
    let lo = after ? t : t - 50 * HOUR
    let hi = after ? t + 50 * HOUR : t
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2)
      if (this.wall(mid).day >= target) hi = mid
      else lo = mid
    }
    return hi
  }
}
