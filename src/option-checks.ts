// Checks shared by the plugin's and the realtime server's option validation.

/** A short, safe description of a bad value for an error message. */
export function describeValue (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof RegExp) return String(value)
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value
}

/** `opts[name]` as an integer in [min, max], `def` when absent; otherwise `fail` builds the error. */
export function integerOption (opts: Record<string, unknown>, name: string, def: number, min: number, max: number,
  fail: (name: string, expected: string, got: unknown) => Error): number {
  const v = opts[name]
  if (v === undefined) return def
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw fail(name, `an integer from ${min} to ${max}`, v)
  return v
}
