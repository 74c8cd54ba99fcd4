// The wire format of POST /events: one event or an array of 1 to 50, each checked by a JSON
// schema for its type, and a formatter that turns Ajv's errors into one message naming every
// bad field (`body/path is required; body/metadata/x must be …`).
import type { FastifySchemaValidationError } from 'fastify'
import type { Entry } from '../types.js'
import { MAX_PATH } from '../write/entry.js'
import { badRequest } from '../shared/http.js'

export const EVENT_TYPES = [
  'pageview', 'heartbeat', 'interaction', 'session_end', 'visibility', 'error', 'request_failed'
] as const
export type EventType = typeof EVENT_TYPES[number]

/** Interaction events the tracker and the report know; any other name matching EVENT_NAME is a custom event. */
export const KNOWN_INTERACTIONS = [
  'click', 'scroll', 'mouse_over', 'mouse_out', 'key_press', 'form_submit', 'input_change', 'focus', 'blur',
  'rage_click'
] as const

export const MAX_BATCH = 50
export const MAX_BODY = 16 * 1024
export const MAX_REFERRER = 2048
export const MAX_ELEMENT = 200
export const MAX_METADATA_KEYS = 20
export const MAX_METADATA_KEY = 64
export const MAX_METADATA_STRING = 500
export const MAX_MESSAGE = 1000
export const MAX_SOURCE = 2048
export const MAX_STACK = 4000
export const MAX_URL = 2048
export const MAX_REQUEST_ID = 128
/** Line and column numbers of a script, error repeats: far above anything real. */
export const MAX_COUNT = 1_000_000_000
/** Durations the tracker measures (activeMs, pageMs, a failed request's ms): at most 7 days. */
export const MAX_DURATION_MS = 7 * 86_400_000
export const EVENT_NAME = '^[a-z][a-z0-9_]{0,39}$'
/** An HTTP method as the tracker sends it: upper case (a method it cannot name is OTHER). */
export const METHOD = '^[A-Z][A-Z0-9_-]{0,19}$'
/** A request id as a response header carries it: printable ASCII, no spaces. */
export const REQUEST_ID = '^[!-~]+$'
/** ISO-8601 date-time with seconds optional and a zone required (Z or ±hh:mm). */
export const ISO_DATE = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])' +
  'T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?' +
  '(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$'

/** Fields an event shares with the entry it becomes, typed there. */
type EntryFields = Pick<Entry, 'activeMs' | 'pageMs' | 'state' | 'message' | 'source' | 'line' | 'column' | 'stack' |
  'errorType' | 'repeat' | 'method' | 'url' | 'status' | 'ms' | 'requestId'>

/** One event as posted (after validation). */
export interface ClientEvent extends EntryFields {
  type: EventType
  path: string
  date?: string
  referrer?: string
  event?: string
  element?: string
  metadata?: Record<string, string | number | boolean | null>
}

const count = { type: 'integer', minimum: 0, maximum: MAX_COUNT } as const
const duration = { type: 'integer', minimum: 0, maximum: MAX_DURATION_MS } as const

/** Every field an event may have besides type, path and date, with its own rule. */
const FIELDS = {
  referrer: { type: 'string', maxLength: MAX_REFERRER },
  event: { type: 'string', pattern: EVENT_NAME },
  element: { type: 'string', maxLength: MAX_ELEMENT },
  metadata: {
    type: 'object',
    maxProperties: MAX_METADATA_KEYS,
    propertyNames: { maxLength: MAX_METADATA_KEY },
    additionalProperties: {
      anyOf: [
        { type: 'string', maxLength: MAX_METADATA_STRING }, { type: 'number' }, { type: 'boolean' }, { type: 'null' }
      ]
    }
  },
  activeMs: duration,
  pageMs: duration,
  state: { type: 'string', enum: ['hidden', 'visible'] },
  message: { type: 'string', maxLength: MAX_MESSAGE },
  source: { type: 'string', maxLength: MAX_SOURCE },
  line: count,
  column: count,
  stack: { type: 'string', maxLength: MAX_STACK },
  errorType: { type: 'string', enum: ['error', 'unhandledrejection'] },
  repeat: { type: 'integer', minimum: 1, maximum: MAX_COUNT },
  method: { type: 'string', pattern: METHOD },
  url: { type: 'string', maxLength: MAX_URL },
  status: { type: 'integer', minimum: 0, maximum: 999 },
  ms: duration,
  requestId: { type: 'string', maxLength: MAX_REQUEST_ID, pattern: REQUEST_ID }
} as const
type Field = keyof typeof FIELDS

/** Which of FIELDS each type of event carries, and which of them it must carry. */
const BY_TYPE: Record<EventType, { required: Field[], optional: Field[] }> = {
  pageview: { required: [], optional: ['referrer'] },
  heartbeat: { required: [], optional: [] },
  interaction: { required: ['event'], optional: ['element', 'metadata'] },
  session_end: { required: [], optional: ['activeMs', 'pageMs'] },
  visibility: { required: ['state'], optional: [] },
  error: { required: ['message', 'errorType'], optional: ['source', 'line', 'column', 'stack', 'repeat'] },
  request_failed: { required: ['method', 'url', 'status'], optional: ['ms', 'requestId'] }
}

/** Per type: its required fields, and `false` for every field of the other types. */
function typeRule (type: EventType): object {
  const { required, optional } = BY_TYPE[type]
  const own = new Set<string>([...required, ...optional])
  const refused = Object.fromEntries(Object.keys(FIELDS).filter((f) => !own.has(f)).map((f) => [f, false]))
  return {
    if: { required: ['type'], properties: { type: { const: type } } },
    then: { required, properties: refused }
  }
}

const eventSchema = {
  type: 'object',
  required: ['type', 'path'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: EVENT_TYPES },
    path: { type: 'string', maxLength: MAX_PATH, pattern: '^/' },
    date: { type: 'string', maxLength: 40, pattern: ISO_DATE },
    ...FIELDS
  },
  allOf: EVENT_TYPES.map(typeRule)
}

/** The route's body schema: an event, or a batch of them. */
export const bodySchema = {
  anyOf: [
    eventSchema,
    { type: 'array', minItems: 1, maxItems: MAX_BATCH, items: eventSchema }
  ]
}

const FIELD_RULES: Record<string, string> = {
  path: 'must be a path starting with "/"',
  date: 'must be an ISO-8601 date-time with a time zone, e.g. 2026-01-31T12:00:00.000Z',
  event: 'must be a lower-case name: a letter, then up to 39 of a-z, 0-9 and _ (e.g. click, form_submit)',
  method: 'must be an upper-case HTTP method such as GET or POST',
  requestId: 'must be printable ASCII without spaces'
}

/** The message for one Ajv error, or null for errors that only repeat another one. */
function describe (e: FastifySchemaValidationError, dataVar: string): string | null {
  const where = dataVar + e.instancePath
  const params = e.params
  switch (e.keyword) {
    case 'if':
      return null
    case 'required':
      return `${where}/${String(params.missingProperty)} is required`
    case 'additionalProperties':
      return `${where}/${String(params.additionalProperty)} is not a known field`
    case 'false schema':
      return `${where} is not allowed for this type of event`
    case 'anyOf':
      return `${where} must be a string of at most ${MAX_METADATA_STRING} characters, a number, a boolean or null`
    case 'enum':
      return `${where} must be one of ${(params.allowedValues as string[]).join(', ')}`
    case 'propertyNames':
      return `${where} has a key longer than ${MAX_METADATA_KEY} characters`
    case 'pattern': {
      const field = e.instancePath.slice(e.instancePath.lastIndexOf('/') + 1)
      return `${where} ${FIELD_RULES[field] ?? e.message ?? 'is invalid'}`
    }
    default:
      return `${where} ${e.message ?? 'is invalid'}`
  }
}

/**
 * Ajv reports the failures of both shapes (one event, a batch). Keep those of the shape the body
 * has; inside it, drop what repeats another error (an anyOf's branches, a propertyNames' detail).
 */
export function formatErrors (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const isArray = errors.some((e) => e.schemaPath === '#/anyOf/0/type')
  const isObject = errors.some((e) => e.schemaPath === '#/anyOf/1/type')
  let messages: string[]
  if (isArray && isObject) {
    messages = [`${dataVar} must be an event object or an array of 1 to ${MAX_BATCH} events`]
  } else {
    const branch = isArray ? '#/anyOf/1/' : '#/anyOf/0/'
    const seen = new Set<string>()
    messages = []
    for (const e of errors) {
      if (!e.schemaPath.startsWith(branch)) continue
      const inner = e.schemaPath.slice(branch.length)
      // Errors of a metadata value's type branches, and the detail of a too-long key.
      if (/\/anyOf\/\d+\//.test(inner) || /\/propertyNames\/./.test(inner)) continue
      const m = describe(e, dataVar)
      if (m !== null && !seen.has(m)) {
        seen.add(m)
        messages.push(m)
      }
    }
    if (messages.length === 0) messages.push(`${dataVar} is invalid`)
  }
  return badRequest(messages.join('; '))
}
