// Option checks shared by the plugin, the realtime server and the CLI: one rule each, so the
// three accept exactly the same prefixes, paths and numbers.
import { OptionError, UnknownOptionError } from './errors.js'

/** A key prefix: 1 to 64 characters that need no quoting in a key or a channel. */
export const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/
export const PREFIX_EXPECTED = 'a string of 1 to 64 characters from [A-Za-z0-9_.:-]'

/** A route path of one or more segments, no trailing slash (the realtime server's routes). */
export const ROUTE_PATH = /^(\/[A-Za-z0-9._~-]+)+$/

/** A short, safe description of a bad value for an error message. */
export function describeValue (value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof RegExp) return String(value)
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? value.slice(0, 60) + '…' : value)
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return typeof value
}

/** Validation of one options object; `who` starts every message ("fastify-userlog", "userlog realtime"). */
export class OptionReader {
  readonly opts: Record<string, unknown>

  constructor (readonly who: string, input: unknown, known: readonly string[]) {
    if (input === undefined || input === null) input = {}
    if (typeof input !== 'object' || Array.isArray(input)) throw this.error('options', 'an object', input)
    this.opts = input as Record<string, unknown>
    for (const name of Object.keys(this.opts)) {
      if (!known.includes(name)) throw new UnknownOptionError(who, name, known.join(', '))
    }
  }

  error (option: string, expected: string, got: unknown): Error {
    return new OptionError(this.who, option, expected, describeValue(got))
  }

  /** `opts[name]` as an integer in [min, max], `def` when absent. */
  integer (name: string, def: number, min: number, max: number): number {
    const v = this.opts[name]
    if (v === undefined) return def
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw this.error(name, `an integer from ${min} to ${max}`, v)
    }
    return v
  }

  /** The key prefix shared by the plugin and the realtime server. */
  prefix (): string {
    const v = this.opts.prefix ?? 'userlog'
    if (typeof v !== 'string' || !PREFIX.test(v)) throw this.error('prefix', PREFIX_EXPECTED, v)
    return v
  }

  /** A function option, or null when absent. */
  fn<T> (name: string): T | null {
    const v = this.opts[name]
    if (v === undefined) return null
    if (typeof v !== 'function') throw this.error(name, 'a function', v)
    return v as T
  }
}
