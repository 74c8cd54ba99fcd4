// What a user name is, wherever one arrives: from the host's getUser, a record() call, or the path
// of an admin request. The key encoding of names is in keys.ts.

/** User names are cut to this many characters. */
export const MAX_USER = 256

/** Normalises what getUser (or record) was given: a non-empty string (cut to MAX_USER) or undefined. */
export function userName (value: unknown): string | undefined {
  if (typeof value === 'string') {
    return value === '' ? undefined : value.length > MAX_USER ? value.slice(0, MAX_USER) : value
  }
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return undefined
}
