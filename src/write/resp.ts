// A script call as the bytes Redis reads (RESP), written once into one Buffer. ioredis would
// build the same command as a string of thousands of small pieces, measure each piece, and have
// the socket flatten and re-encode the whole string: for a batch of entries that cost the host
// more than making the entries. Here each argument is written straight into the Buffer, and an
// argument known to be ASCII (an entry made by entry-json.ts) is copied as is, without measuring it.
import { createHash } from 'node:crypto'
import { Command } from 'ioredis'
import type { RedisLike } from '../types.js'

// Up to this many characters, a loop reads or copies an ASCII value faster than a call into
// Buffer's native methods.
const SHORT = 24

/** The arguments of a call, each with its length in bytes. */
export class ScriptArgs {
  readonly values: string[] = []
  readonly bytes: number[] = []
  /** Sum of `bytes`. */
  total = 0

  /** An argument of ASCII characters only (its length is its size in bytes). */
  ascii (value: string): void {
    this.values.push(value)
    this.bytes.push(value.length)
    this.total += value.length
  }

  /** Any text: measured (a short one here, a longer one by Buffer.byteLength), written as UTF-8 unless ASCII. */
  text (value: string): void {
    const n = value.length <= SHORT && isAscii(value) ? value.length : Buffer.byteLength(value)
    this.values.push(value)
    this.bytes.push(n)
    this.total += n
  }

  /** An argument whose size in bytes is already known. */
  sized (value: string, bytes: number): void {
    this.values.push(value)
    this.bytes.push(bytes)
    this.total += bytes
  }

  /** Every argument of `other`, after these. */
  append (other: ScriptArgs): void {
    for (let i = 0; i < other.values.length; i++) this.sized(other.values[i] as string, other.bytes[i] as number)
  }

  get length (): number { return this.values.length }
}

/** A Lua script and its SHA-1, under which Redis caches it. */
export interface Script { lua: string, sha: string }

export function script (lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

function isAscii (s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false
  return true
}

// Room left in front of the arguments for the command's head (`*N`, the command name, the SHA),
// so that writing the head last needs no second copy of the arguments.
const HEAD_ROOM = 96
// Per argument: `$`, up to ten digits of length, CRLF before and after the value.
const ARG_FRAME = 15

/**
 * The RESP bytes of `EVALSHA sha numkeys keys… argv…` (`EVAL lua …` when `lua` is given, for a
 * node that does not have the script cached). Keys and argv are written in that order.
 */
export function encodeScriptCall (sha: string, keys: ScriptArgs, argv: ScriptArgs): EncodedCall {
  const count = keys.length + argv.length
  const buf = Buffer.allocUnsafe(HEAD_ROOM + 16 + keys.total + argv.total + (count + 1) * ARG_FRAME)
  let at = HEAD_ROOM
  const numkeys = String(keys.length)
  at = writeArg(buf, at, numkeys, numkeys.length)
  at = writeAll(buf, at, keys)
  at = writeAll(buf, at, argv)
  return new EncodedCall(sha, buf, at, count + 1)
}

function writeAll (buf: Buffer, at: number, args: ScriptArgs): number {
  const { values, bytes } = args
  for (let i = 0; i < values.length; i++) at = writeArg(buf, at, values[i] as string, bytes[i] as number)
  return at
}

function writeArg (buf: Buffer, at: number, value: string, size: number): number {
  // `$<size>\r\n`, the digits written as bytes: no string to make, no call to encode it.
  buf[at++] = 36
  let end = at + 1
  for (let n = size; n >= 10; n = Math.floor(n / 10)) end++
  for (let n = size, i = end - 1; i >= at; n = Math.floor(n / 10), i--) buf[i] = 48 + (n % 10)
  buf[end] = 13
  buf[end + 1] = 10
  at = end + 2
  if (size === value.length) {
    // ASCII: a short value (a head, a tag, an op) is copied byte by byte, cheaper than a call
    // into Buffer#write; a longer one (an entry) with 'ascii', which copies one-byte strings as
    // they are.
    if (size <= SHORT) for (let i = 0; i < size; i++) buf[at++] = value.charCodeAt(i)
    else at += buf.write(value, at, 'ascii')
  } else {
    at += buf.write(value, at, 'utf8')
  }
  buf[at] = 13
  buf[at + 1] = 10
  return at + 2
}

/** A script call's arguments as bytes; `bytes()` puts the command in front. */
export class EncodedCall {
  constructor (
    readonly sha: string,
    private readonly buf: Buffer,
    private readonly end: number,
    /** Arguments after the command name (numkeys, keys, argv; plus the SHA or script). */
    private readonly args: number
  ) {}

  /** The whole command: EVALSHA with the SHA, or EVAL with the script itself. */
  bytes (lua?: string): Buffer {
    const first = lua ?? this.sha
    const head = `*${this.args + 2}\r\n${lua === undefined ? '$7\r\nevalsha' : '$4\r\neval'}\r\n` +
      `$${Buffer.byteLength(first)}\r\n${first}\r\n`
    const size = Buffer.byteLength(head)
    if (size <= HEAD_ROOM) {
      this.buf.write(head, HEAD_ROOM - size, 'utf8')
      return this.buf.subarray(HEAD_ROOM - size, this.end)
    }
    return Buffer.concat([Buffer.from(head), this.buf.subarray(HEAD_ROOM, this.end)])
  }
}

/**
 * An ioredis command whose bytes are already made. ioredis still routes it (a Cluster reads the
 * slot from `keys`), queues it while disconnected, follows MOVED and ASK, and parses the reply;
 * only the writing is ours.
 */
class PreparedCommand extends Command {
  constructor (name: string, routing: string[], private readonly prepared: Buffer) {
    super(name, routing, { replyEncoding: 'utf8' })
  }

  override toWritable (): Buffer { return this.prepared }
}

/**
 * Runs an encoded script call: EVALSHA, and on NOSCRIPT (a Redis that restarted, or a replica
 * promoted since the script was last sent) the same call as EVAL, which caches it again.
 * `routeKey` is a key of the call (a Cluster sends the call to the node that owns its slot).
 */
export async function runScript (client: RedisLike, s: Script, call: EncodedCall, routeKey: string): Promise<unknown> {
  try {
    return await client.sendCommand(new PreparedCommand('evalsha', [s.sha, '1', routeKey], call.bytes()))
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err
    return await client.sendCommand(new PreparedCommand('eval', [s.lua, '1', routeKey], call.bytes(s.lua)))
  }
}
