// Where an entry becomes the JSON text stored in its user's log. The request hook's entries
// (RequestEntry, the bulk of what a host writes) go through a template with their fields in
// their order: JSON.stringify walks an object's properties generically and costs several times
// as much. The template escapes every character outside printable ASCII (as \uXXXX), so its
// output is ASCII and is copied into the script call without being measured or re-encoded
// (resp.ts). Every other entry (the browser's, `record`, a transformed one) is JSON.stringify'd.
import { RequestEntry } from './entry.js'
import type { Entry } from '../types.js'

// Printable ASCII except `"` and `\`: such a string is its own JSON body.
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/
const NOT_ASCII = /[\u007f-\uffff]/g

/** A JSON string literal of `s` in ASCII only. */
export function asciiJsonString (s: string): string {
  if (PLAIN.test(s)) return '"' + s + '"'
  // JSON.stringify escapes quotes, backslashes, control characters and lone surrogates.
  return JSON.stringify(s).replace(NOT_ASCII, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))
}

/** JSON's text of a number (null for NaN and the infinities, as JSON.stringify writes them). */
function num (n: number): string {
  return Number.isFinite(n) ? String(n) : 'null'
}

/** The stored JSON of a request entry: the same value JSON.stringify gives, in ASCII. */
export function requestJson (e: RequestEntry): string {
  return '{"id":' + asciiJsonString(e.id) + ',"t":' + num(e.t) + ',"user":' + asciiJsonString(e.user) +
    ',"kind":"request","method":' + asciiJsonString(e.method) + ',"path":' + asciiJsonString(e.path) +
    ',"route":' + (e.route === null ? 'null' : asciiJsonString(e.route)) + ',"status":' + num(e.status) +
    ',"ms":' + num(e.ms) + ',"ip":' + asciiJsonString(e.ip) + ',"ua":' + asciiJsonString(e.ua) +
    ',"reqId":' + asciiJsonString(e.reqId) + '}'
}

/** An entry's stored JSON. */
export function entryJson (entry: Entry): string {
  return entry instanceof RequestEntry ? requestJson(entry) : JSON.stringify(entry)
}

/** The size in bytes of `json`, the stored JSON of `entry`: a request entry's is ASCII, one byte a character. */
export function jsonSize (entry: Entry, json: string): number {
  return entry instanceof RequestEntry ? json.length : Buffer.byteLength(json)
}
