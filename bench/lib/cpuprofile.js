// Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time per
// function, time per area (the plugin, fastify, ioredis, node/V8 internals, GC) and the
// inclusive time of chosen functions. Also a CLI:
//   node bench/lib/cpuprofile.js FILE.cpuprofile [REQUESTS]   (REQUESTS: report µs per request)
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

/** Which part of the stack a frame belongs to. */
export function area (url, name) {
  if (name === '(garbage collector)') return 'GC'
  if (name === '(idle)') return 'idle'
  if (name === '(program)') return 'program (V8/native, unattributed)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m !== null) {
    if (/^(ioredis|@ioredis\/.*|redis-errors|redis-parser|standard-as-callback|cluster-key-slot|denque)$/.test(m[1])) return 'ioredis'
    return 'fastify & deps'
  }
  if (url.includes('/dist/')) return 'fastify-userlog'
  if (url.includes('/bench/')) return 'bench server'
  if (url.startsWith('node:')) return 'node internals'
  if (url === '') return 'native (syscalls, builtins)'
  return 'other'
}

/** True for a frame of the plugin's own code (dist/), not a dependency's dist/. */
export const isPluginFrame = (key) => key.includes(' dist/')

function shortUrl (url) {
  const i = url.lastIndexOf('node_modules/')
  if (i !== -1) return url.slice(i + 13)
  const d = url.indexOf('/dist/')
  if (d !== -1) return url.slice(d + 1)
  return url.replace(/^file:\/\/.*\/bench\//, 'bench/')
}

/** Summarises one profile. Times are in microseconds. */
export function analyse (profile) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
  const self = new Map()
  const dt = profile.timeDeltas
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]
    self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0))
  }
  const key = (n) => {
    const f = n.callFrame
    return `${f.functionName || '(anonymous)'} ${shortUrl(f.url)}:${f.lineNumber + 1}`
  }
  const byFunction = new Map()
  const byArea = new Map()
  const inclusive = new Map()
  let total = 0
  let idle = 0
  // Inclusive time per function, counting recursion once: walk the tree with the set of
  // functions already on the stack.
  const root = profile.nodes[0]
  const walk = (node, onStack) => {
    const k = key(node)
    let sum = self.get(node.id) ?? 0
    const s = self.get(node.id) ?? 0
    const f = node.callFrame
    if (f.functionName === '(idle)') idle += s
    else total += s
    byFunction.set(k, (byFunction.get(k) ?? 0) + s)
    const a = area(f.url, f.functionName)
    byArea.set(a, (byArea.get(a) ?? 0) + s)
    const added = !onStack.has(k)
    if (added) onStack.add(k)
    for (const childId of node.children ?? []) sum += walk(nodes.get(childId), onStack)
    if (added) {
      onStack.delete(k)
      inclusive.set(k, (inclusive.get(k) ?? 0) + sum)
    }
    return sum
  }
  walk(root, new Set())
  return { total, idle, byFunction, byArea, inclusive }
}

export function loadProfile (file) {
  return analyse(JSON.parse(readFileSync(file, 'utf8')))
}

const sorted = (map) => [...map].filter(([k]) => !k.startsWith('(idle)') && k !== 'idle').sort((a, b) => b[1] - a[1])

/** Text report; with `requests`, times are also given per request. */
export function report (a, requests, top = 25) {
  const per = (us) => requests ? `${(us / requests).toFixed(2).padStart(7)} µs/req` : ''
  const pct = (us) => `${(100 * us / a.total).toFixed(1).padStart(5)}%`
  const overall = requests ? ` over ${requests} requests = ${(a.total / requests).toFixed(2)} µs/req` : ''
  const lines = [`busy ${(a.total / 1e6).toFixed(2)} s${overall}`]
  lines.push('by area (self time):')
  for (const [k, v] of sorted(a.byArea)) lines.push(`  ${pct(v)} ${per(v)}  ${k}`)
  lines.push(`top ${top} functions (self time):`)
  for (const [k, v] of sorted(a.byFunction).slice(0, top)) lines.push(`  ${pct(v)} ${per(v)}  ${k}`)
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, requests] = process.argv.slice(2)
  if (file === undefined) {
    console.error('usage: node bench/lib/cpuprofile.js FILE.cpuprofile [REQUESTS]')
    process.exit(2)
  }
  const a = loadProfile(file)
  console.log(report(a, requests ? Number(requests) : 0))
  console.log('fastify-userlog functions (inclusive):')
  for (const [k, v] of sorted(a.inclusive).filter(([k]) => isPluginFrame(k)).slice(0, 25)) {
    const perRequest = requests ? (v / Number(requests)).toFixed(2).padStart(7) + ' µs/req' : ''
    console.log(`  ${(100 * v / a.total).toFixed(1).padStart(5)}% ${perRequest}  ${k}`)
  }
}
