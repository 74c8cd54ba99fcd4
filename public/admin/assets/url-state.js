// The page's state in its URL, so that a link in a ticket opens the same view:
//   /userlog/#user=<encoded>&kind=request,error&status=5xx&method=POST&q=/cart&at=<entry id>
// The user is the only personal data in it. A link is read defensively: every value is checked
// against the same limits as the API's, anything else is dropped (and said so), and it only
// chooses what to ask the admin API for — which checks the admin's rights and audits the view.
import { NO_FILTER, filterParams, parseFilter } from './rules/filter.js'

/** As the server's limit on user names. */
export const MAX_USER = 256
/** Entry ids are short base64url strings. */
const ENTRY_ID = /^[A-Za-z0-9_-]{1,64}$/

/**
 * @typedef {{ user: string | null, filter: import('./rules/filter.js').Filter, at: string | null,
 *   problems: string[] }} ViewState
 */

/** @param {string} hash e.g. location.hash @returns {ViewState} */
export function readState (hash) {
  /** @type {string[]} */
  const problems = []
  let params
  try {
    params = new URLSearchParams(hash.startsWith('#') ? hash.slice(1) : hash)
  } catch {
    return { user: null, filter: NO_FILTER, at: null, problems: ['the link could not be read'] }
  }
  let user = params.get('user')
  if (user !== null && (user === '' || user.length > MAX_USER)) {
    problems.push('the user in the link is not a valid name')
    user = null
  }
  const parsed = parseFilter({
    kind: params.get('kind'), status: params.get('status'), method: params.get('method'), q: params.get('q')
  })
  if (parsed.error !== null) problems.push(`the link's filter was ignored (${parsed.error})`)
  let at = params.get('at')
  if (at !== null && !ENTRY_ID.test(at)) {
    problems.push('the entry in the link is not a valid entry id')
    at = null
  }
  return { user, filter: parsed.filter ?? NO_FILTER, at, problems }
}

/**
 * The hash of a view, always in the same order.
 * @param {{ user: string | null, filter: import('./rules/filter.js').Filter, at?: string | null }} s
 */
export function writeState (s) {
  /** @type {Array<[string, string]>} */
  const params = []
  if (s.user !== null) params.push(['user', s.user])
  params.push(...filterParams(s.filter))
  if (s.at) params.push(['at', s.at])
  return params.length === 0 ? '' : '#' + new URLSearchParams(params).toString()
}

/** The full link of a view (this page's address with the view's hash). @param {Parameters<typeof writeState>[0]} s */
export function linkTo (s) {
  return location.origin + location.pathname + writeState(s)
}
