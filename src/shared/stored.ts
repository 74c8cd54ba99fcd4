// Entries as Redis holds them: one JSON object per list item. Read back defensively, since a
// list item is only as trustworthy as whatever else writes to the prefix.
import type { Entry } from '../types.js'

/** The entry a stored item holds, or null for an item that is not a JSON object. */
export function parseStoredEntry (json: string): Entry | null {
  let value: unknown
  try { value = JSON.parse(json) } catch { return null }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Entry : null
}
