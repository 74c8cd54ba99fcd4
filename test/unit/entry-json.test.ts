// The stored JSON of a request entry (src/write/entry-json.ts) and the script call's bytes
// (src/write/resp.ts): the template gives the value JSON.stringify gives, in ASCII, with the same
// fields in the same order, for any text a request can carry; the call's bytes are exactly those
// ioredis would have sent.
import t from 'tap'
import fc from 'fast-check'
import { Command } from 'ioredis'
import { RequestEntry } from '../../src/write/entry.js'
import { asciiJsonString, entryJson, jsonSize, requestJson } from '../../src/write/entry-json.js'
import { ScriptArgs, encodeScriptCall } from '../../src/write/resp.js'

const RUNS = Number(process.env.USERLOG_FUZZ_RUNS ?? 1000)
// Any UTF-16: control characters, quotes, backslashes, emoji, lone surrogates.
const anyText = fc.string({ unit: 'binary', maxLength: 40 })
const ASCII = { test: (s: string): boolean => [...s].every((c) => c.charCodeAt(0) < 0x80) }

const entryOf = fc.record({
  id: anyText, t: fc.oneof(fc.integer(), fc.double()), user: anyText, method: anyText, path: anyText,
  route: fc.option(anyText, { nil: null }), status: fc.integer(), ms: fc.double(), ip: anyText, ua: anyText,
  reqId: anyText
}).map((f) => new RequestEntry(f.id, f.t, f.user, f.method, f.path, f.route, f.status, f.ms, f.ip, f.ua, f.reqId))

t.test('a request entry: the same value as JSON.stringify, fields in order, ASCII only', async (t) => {
  fc.assert(fc.property(entryOf, (e) => {
    const json = requestJson(e)
    const generic = JSON.stringify(e)
    return ASCII.test(json) &&
      JSON.stringify(JSON.parse(json)) === generic &&
      Object.keys(JSON.parse(json) as object).join() === Object.keys(e).join()
  }), { numRuns: RUNS })
  const e = new RequestEntry('a1', 5, 'José "J" \\', 'GET', '/über?q=😀', null, 200, 1.5, '::1', 'UA\u0001', 'req-1')
  t.equal(requestJson(e),
    '{"id":"a1","t":5,"user":"Jos\\u00e9 \\"J\\" \\\\","kind":"request","method":"GET",' +
    '"path":"/\\u00fcber?q=\\ud83d\\ude00",' +
    '"route":null,"status":200,"ms":1.5,"ip":"::1","ua":"UA\\u0001","reqId":"req-1"}')
  t.equal(asciiJsonString('\ud800'), '"\\ud800"', 'a lone surrogate is escaped, not replaced')
})

t.test('other entries are JSON.stringify\'d, measured as UTF-8', async (t) => {
  const custom = { id: 'x', t: 1, user: 'ü', kind: 'custom' }
  const json = entryJson(custom)
  t.equal(json, '{"id":"x","t":1,"user":"ü","kind":"custom"}')
  t.equal(jsonSize(custom, json), Buffer.byteLength(json))
  const request = new RequestEntry('y', 1, 'ü', 'GET', '/', '/', 200, 1, '', '', 'r')
  const ascii = entryJson(request)
  t.equal(jsonSize(request, ascii), ascii.length, 'a request entry is ASCII: its length is its size')
  t.equal(Buffer.byteLength(ascii), ascii.length)
})

t.test('a script call encodes to exactly the bytes ioredis writes for the same arguments', async (t) => {
  const sha = 'f'.repeat(40)
  const lists = [fc.array(anyText, { maxLength: 14 }), fc.array(anyText, { maxLength: 30 })] as const
  fc.assert(fc.property(...lists, (keyList, argList) => {
    const keys = new ScriptArgs()
    for (const k of keyList) keys.text(k)
    const argv = new ScriptArgs()
    // Known-ASCII arguments take the other path.
    for (const a of argList) if (ASCII.test(a)) argv.ascii(a); else argv.text(a)
    const ours = encodeScriptCall(sha, keys, argv)
    const theirs = (lua: string | null): Buffer => Buffer.from(new Command(lua === null ? 'evalsha' : 'eval',
      [lua ?? sha, String(keyList.length), ...keyList, ...argList]).toWritable({}) as string)
    return ours.bytes().equals(theirs(null)) && ours.bytes('return 1').equals(theirs('return 1'))
  }), { numRuns: RUNS })
  // A command head longer than the room kept for it (EVAL with a whole script) is still exact.
  const keys = new ScriptArgs()
  for (let i = 0; i < 12; i++) keys.text(`k${i}`)
  const lua = 'return 1 -- ' + 'x'.repeat(500)
  const call = encodeScriptCall(sha, keys, new ScriptArgs())
  t.ok(call.bytes(lua).equals(Buffer.from(new Command('eval', [lua, '12', ...keys.values]).toWritable({}) as string)))
})
