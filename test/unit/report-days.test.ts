// Day math in a time zone: boundaries at local midnight, 23- and 25-hour days at DST changes,
// zones whose midnight is skipped, and the two-slot cache.
import t from 'tap'
import { DayClock, addDays, daysEndingWith } from '../../src/report/days.js'

const iso = (s: string): number => Date.parse(s)
const HOUR = 3_600_000

t.test('calendar arithmetic on dates', async (t) => {
  t.equal(addDays('2026-03-01', -1), '2026-02-28')
  t.equal(addDays('2024-02-28', 1), '2024-02-29')
  t.equal(addDays('2026-12-31', 1), '2027-01-01')
  t.same(daysEndingWith('2026-03-02', 4), ['2026-02-27', '2026-02-28', '2026-03-01', '2026-03-02'])
  t.same(daysEndingWith('2026-03-02', 1), ['2026-03-02'])
})

t.test('UTC days', async (t) => {
  const clock = new DayClock('UTC')
  t.equal(clock.dayOf(iso('2026-05-01T00:00:00.000Z')), '2026-05-01')
  t.equal(clock.dayOf(iso('2026-04-30T23:59:59.999Z')), '2026-04-30')
  t.same(clock.rangeOf(iso('2026-05-01T12:00:00Z')),
    { day: '2026-05-01', start: iso('2026-05-01T00:00:00Z'), end: iso('2026-05-02T00:00:00Z') })
})

t.test('America/New_York: the boundary is local midnight, DST days last 23 and 25 hours', async (t) => {
  const clock = new DayClock('America/New_York')
  // EST is UTC-5: midnight of March 8 is 05:00Z.
  t.equal(clock.dayOf(iso('2026-03-08T04:59:59.999Z')), '2026-03-07')
  t.equal(clock.dayOf(iso('2026-03-08T05:00:00.000Z')), '2026-03-08')
  const spring = clock.rangeOf(iso('2026-03-08T12:00:00Z'))
  t.same(spring, { day: '2026-03-08', start: iso('2026-03-08T05:00:00Z'), end: iso('2026-03-09T04:00:00Z') },
    'ends at EDT midnight')
  t.equal(spring.end - spring.start, 23 * HOUR)
  // Entries just before and after the 02:00 jump are the same day.
  t.equal(clock.dayOf(iso('2026-03-08T06:59:59Z')), '2026-03-08')
  t.equal(clock.dayOf(iso('2026-03-08T07:00:00Z')), '2026-03-08')
  const fall = clock.rangeOf(iso('2026-11-01T12:00:00Z'))
  t.same(fall, { day: '2026-11-01', start: iso('2026-11-01T04:00:00Z'), end: iso('2026-11-02T05:00:00Z') })
  t.equal(fall.end - fall.start, 25 * HOUR)
  t.equal(clock.dayOf(iso('2026-11-02T04:59:59.999Z')), '2026-11-01')
  t.equal(clock.dayOf(iso('2026-11-02T05:00:00Z')), '2026-11-02')
})

t.test('Europe/Paris DST days', async (t) => {
  const clock = new DayClock('Europe/Paris')
  const spring = clock.rangeOf(iso('2026-03-29T12:00:00Z'))
  t.same(spring, { day: '2026-03-29', start: iso('2026-03-28T23:00:00Z'), end: iso('2026-03-29T22:00:00Z') })
  const fall = clock.rangeOf(iso('2026-10-25T12:00:00Z'))
  t.same(fall, { day: '2026-10-25', start: iso('2026-10-24T22:00:00Z'), end: iso('2026-10-25T23:00:00Z') })
  t.equal(clock.dayOf(iso('2026-10-24T21:59:59.999Z')), '2026-10-24')
})

t.test('America/Santiago: a day whose midnight does not exist starts at 01:00', async (t) => {
  const clock = new DayClock('America/Santiago')
  // On 2026-09-06 clocks go from 24:00 (-04) to 01:00 (-03).
  t.same(clock.rangeOf(iso('2026-09-06T12:00:00Z')),
    { day: '2026-09-06', start: iso('2026-09-06T04:00:00Z'), end: iso('2026-09-07T03:00:00Z') })
  t.equal(clock.dayOf(iso('2026-09-06T03:59:59.999Z')), '2026-09-05')
})

t.test('every day of a year in several zones: ranges tile time without gaps', async (t) => {
  // America/Santiago and America/Havana change their clocks at midnight (the day starts at
  // 01:00 on those days); Asia/Kolkata and Australia/Lord_Howe have odd offsets.
  for (const zone of [
    'America/New_York', 'Europe/Paris', 'America/Santiago', 'America/Havana', 'Asia/Kolkata', 'Australia/Lord_Howe',
    'Pacific/Apia'
  ]) {
    const clock = new DayClock(zone)
    let range = clock.rangeOf(iso('2026-01-01T12:00:00Z'))
    let bad = 0
    const lengths = new Set<number>()
    for (let i = 0; i < 366; i++) {
      const next = clock.rangeOf(range.end)
      if (next.start !== range.end || next.day !== addDays(range.day, 1)) bad++
      if (clock.dayOf(range.start) !== range.day || clock.dayOf(range.end - 1) !== range.day) bad++
      lengths.add((range.end - range.start) / HOUR)
      range = next
    }
    t.equal(bad, 0, `${zone}: consecutive days, each [start, end) maps to its date`)
    t.ok([...lengths].every((h) => h >= 23 && h <= 25), `${zone}: days of ${[...lengths].join(', ')} hours`)
  }
})

t.test('the cache answers entries of two days in any order, and a third day', async (t) => {
  const clock = new DayClock('Europe/Paris')
  const a = iso('2026-06-01T21:59:00Z') // June 1, 23:59 in Paris
  const b = iso('2026-06-01T22:01:00Z') // June 2, 00:01
  const c = iso('2026-05-20T10:00:00Z')
  const seq = [a, b, a, b, c, a, b, c].map((x) => clock.dayOf(x))
  t.same(seq,
    ['2026-06-01', '2026-06-02', '2026-06-01', '2026-06-02', '2026-05-20', '2026-06-01', '2026-06-02', '2026-05-20'])
})
