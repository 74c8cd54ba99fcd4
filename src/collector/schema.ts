// The wire format of POST /events: one event or an array of 1 to 50, each checked by a JSON
// schema for its type, and a formatter that turns Ajv's errors into one message naming every
// bad field (`body/path is required; body/metadata/x must be …`).
import type { FastifySchemaValidationError } from 'fastify'
import { MAX_PATH } from '../write/entry.js'
import { badRequest } from '../shared/http.js'

export const EVENT_TYPES = ['pageview', 'heartbeat', 'interaction', 'session_end'] as const
export type EventType = typeof EVENT_TYPES[number]

/** Interaction events the tracker and the report know; any other name matching EVENT_NAME is a custom event. */
export const KNOWN_INTERACTIONS = [
  'click', 'scroll', 'mouse_over', 'mouse_out', 'key_press', 'form_submit', 'input_change', 'focus', 'blur'
] as const

export const MAX_BATCH = 50
export const MAX_BODY = 16 * 1024
export const MAX_REFERRER = 2048
export const MAX_ELEMENT = 200
export const MAX_METADATA_KEYS = 20
export const MAX_METADATA_KEY = 64
export const MAX_METADATA_STRING = 500
export const EVENT_NAME = '^[a-z][a-z0-9_]{0,39}$'
/** ISO-8601 date-time with seconds optional and a zone required (Z or ±hh:mm). */
export const ISO_DATE = '^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])' +
  'T([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,9})?)?' +
  '(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$'

/** One event as posted (after validation). */
export interface ClientEvent {
  type: EventType
  path: string
  date?: string
  referrer?: string
  event?: string
  element?: string
  metadata?: Record<string, string | number | boolean | null>
}

const eventSchema = {
  type: 'object',
  required: ['type', 'path'],
  additionalProperties: false,
  properties: {
    type: { type: 'string', enum: EVENT_TYPES },
    path: { type: 'string', maxLength: MAX_PATH, pattern: '^/' },
    date: { type: 'string', maxLength: 40, pattern: ISO_DATE },
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
    }
  },
  // Per type: only interactions carry event, element and metadata (and need an event); only page views a referrer.
  allOf: [
    {
      if: { required: ['type'], properties: { type: { const: 'interaction' } } },
      then: { required: ['event'], properties: { event: true } },
      else: { properties: { event: false, element: false, metadata: false } }
    },
    {
      if: { required: ['type'], properties: { type: { const: 'pageview' } } },
      else: { properties: { referrer: false } }
    }
  ]
} as const

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
  event: 'must be a lower-case name: a letter, then up to 39 of a-z, 0-9 and _ (e.g. click, form_submit)'
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
      return `${where} must be one of ${EVENT_TYPES.join(', ')}`
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
