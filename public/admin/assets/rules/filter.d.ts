// Types of filter.js, for the server (TypeScript) side.
export declare const KIND_GROUPS: Readonly<Record<string, readonly string[]>>
export declare const KIND_NAMES: readonly string[]
export declare const STATUS_CLASSES: readonly string[]
export declare const MAX_QUERY: number
export declare const MAX_METHODS: number
export declare const PATTERNS: Readonly<{ kind: string, status: string, method: string }>
export interface Filter {
  kinds: Set<string> | null
  statuses: Set<string> | null
  methods: Set<string> | null
  /** As typed; `needle` is its lower-case form, compared with lower-cased fields. */
  q: string
  needle: string
}
export declare const NO_FILTER: Readonly<Filter>
export interface FilterInput { kind?: string | null, status?: string | null, method?: string | null, q?: string | null }
export declare function parseFilter (input: FilterInput):
  { filter: Filter, error: null } | { filter: null, error: string }
export declare function kindGroup (kind: unknown): string
export declare function isEmpty (f: Filter): boolean
export declare function matches (f: Filter, e: Record<string, unknown>): boolean
export declare function filterParams (f: Filter): Array<[string, string]>
