// The filter and presence rules the admin page runs in the browser, loaded here from the same
// files so that the log API, the realtime server and `userlog tail` apply exactly the same rules.
import { MAX_QUERY, parseFilter, type Filter } from '../../public/admin/assets/rules/filter.js'
import { badRequest } from './http.js'

export * as filters from '../../public/admin/assets/rules/filter.js'
export * as presence from '../../public/admin/assets/rules/presence.js'
export type { Filter } from '../../public/admin/assets/rules/filter.js'
export type { Presence, PresenceState, Track } from '../../public/admin/assets/rules/presence.js'

/** The query-string fields of a filter, for a route's JSON schema (their values are checked by `filterOf`). */
export const filterQuerySchema = {
  kind: { type: 'string', maxLength: 200 },
  status: { type: 'string', maxLength: 40 },
  method: { type: 'string', maxLength: 200 },
  q: { type: 'string', maxLength: MAX_QUERY }
} as const

export interface FilterQuery { kind?: string, status?: string, method?: string, q?: string }

/** The filter a query string asks for; a 400 naming the field for a bad value. */
export function filterOf (query: FilterQuery): Filter {
  const parsed = parseFilter(query)
  if (parsed.error !== null) throw badRequest(`querystring/${parsed.error}`)
  return parsed.filter
}
