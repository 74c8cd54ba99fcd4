// Entries with chosen times written through a real BatchWriter and the report contributor, for
// report tests that need days and time zones the clock would not give (record() stamps now).
import { pino } from 'pino'
import type { Redis } from 'ioredis'
import type { Keys } from '../../src/shared/keys.js'
import { validateOptions } from '../../src/options.js'
import { BatchWriter } from '../../src/write/writer.js'
import { nextId } from '../../src/write/entry.js'
import type { Entry } from '../../src/types.js'
import { reportContributor } from '../../src/report/counters.js'

export type TimedEntry = Partial<Entry> & { t: number, user: string }

export async function writeEntries (db: Redis, keys: Keys, entries: TimedEntry[], timeZone: string): Promise<void> {
  const contributor = reportContributor({ settings: validateOptions({ timeZone }), keys })
  const writer = new BatchWriter(db, { keys, maxEntries: 100, ttl: 86_400, indexCap: 1000, publish: false }, 10_000,
    pino({ level: 'silent' }), [contributor])
  for (const e of entries) writer.push({ id: nextId(), kind: 'request', ...e })
  await writer.flush()
  await writer.close(100)
}
