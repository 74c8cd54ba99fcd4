// What of a validated event goes into its entry, besides the fields every client entry has:
// each type's own fields, as posted, except that every URL (path, referrer, a failed request's
// url, an error's source) and the free text of an error (message, stack) are redacted with the
// redactQuery rule before storing.
import type { Entry } from '../types.js'
import { redactUrl } from '../write/entry.js'
import type { ClientEvent } from './schema.js'
import { redactText } from './redact.js'

/** Fields stored as posted (the schema has bounded them). */
const KEPT = ['event', 'element', 'metadata', 'activeMs', 'pageMs', 'state', 'line', 'column', 'errorType', 'repeat',
  'method', 'status', 'ms', 'requestId'] as const
/** URL fields, redacted as a path is. */
const URLS = ['referrer', 'source', 'url'] as const
/** Free text that may hold URLs anywhere in it. */
const TEXTS = ['message', 'stack'] as const

export function addEventFields (entry: Entry, e: ClientEvent, redact: ReadonlySet<string>): void {
  const out: Record<string, unknown> = entry
  for (const field of KEPT) if (e[field] !== undefined) out[field] = e[field]
  for (const field of URLS) {
    const v = e[field]
    if (v !== undefined) out[field] = redactUrl(v, redact)
  }
  for (const field of TEXTS) {
    const v = e[field]
    if (v !== undefined) out[field] = redactText(v, redact)
  }
}
