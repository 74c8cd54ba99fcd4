// Redaction of free text a browser reports (an error's message and stack): every URL-like word in
// it that holds a query gets redactUrl, the rule that redacts paths. A stack frame's trailing
// `:line:column` stays outside the query, so it survives redaction.
import { redactUrl } from '../write/entry.js'

/** A word holding a `?`: up to whitespace, quotes, brackets or a backtick. */
const QUERY_WORD = /[^\s"'`()<>[\]{}]*\?[^\s"'`()<>[\]{}]*/g
const LINE_COLUMN = /(?::\d+){1,2}$/

export function redactText (text: string, names: ReadonlySet<string>): string {
  if (names.size === 0 || !text.includes('?')) return text
  return text.replace(QUERY_WORD, (word) => {
    const tail = LINE_COLUMN.exec(word)?.[0] ?? ''
    return redactUrl(word.slice(0, word.length - tail.length), names) + tail
  })
}
