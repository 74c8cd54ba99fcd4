// Errors a caller may meet, each with a stable `code` (made with @fastify/error, as Fastify and
// its plugins make theirs), so a host can test `err.code` instead of matching messages.
import createError from '@fastify/error'

/** An option has a bad value: says which, what was expected and what was given. */
export const OptionError = createError<'FST_USERLOG_OPTION', [string, string, string, string]>(
  'FST_USERLOG_OPTION', '%s: option "%s" must be %s (got %s)', 500, TypeError)

/** An option name nobody knows (a typo): lists the known ones. */
export const UnknownOptionError = createError<'FST_USERLOG_UNKNOWN_OPTION', [string, string, string]>(
  'FST_USERLOG_UNKNOWN_OPTION', '%s: unknown option "%s" (known options: %s)', 500, TypeError)

/** The plugin, or the realtime plugin, registered twice on one Fastify instance. */
export const AlreadyRegisteredError = createError<'FST_USERLOG_ALREADY_REGISTERED', [string]>(
  'FST_USERLOG_ALREADY_REGISTERED', '%s has already been registered on this Fastify instance')

/** `fastify.userlog.record(user)` without a user name. */
export const NoUserError = createError<'FST_USERLOG_NO_USER', []>(
  'FST_USERLOG_NO_USER', 'fastify-userlog: record(user) needs a non-empty user name', 500, TypeError)
