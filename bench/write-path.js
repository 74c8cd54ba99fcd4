#!/usr/bin/env node
// What the plugin's write path costs per entry, counted in instructions instead of seconds:
// the host's CPU time on a shared virtual machine swings by 2× between rounds when its
// neighbours are busy, while the number of instructions a program runs does not depend on them.
// valgrind's callgrind counts the user-space instructions of two processes:
//   the host   bench/lib/write-loop.js: entries made by the plugin's requestEntry from a real
//              Fastify request (a browser User-Agent), pushed through the plugin's BatchWriter with
//              its report and session counters, one flush per batch of --batch entries (190: about
//              what a busy host's batch holds at 30,000 requests/s)
//   Redis      redis-server running the write script for those batches (its idle work over the
//              same time, measured separately, is subtracted; it is emptied before each run)
// The plugin's clock moves as on a host serving --rate requests a second (30,000 by default),
// so what it does once a second per user is counted as often per entry as on such a host.
// It measures 1 user, 1,000 users in turn and Zipf 10,000 users. Counters are zeroed after --warmup
// batches (the JIT has compiled the path by then) and read after --batches more. Node runs with
// --single-threaded, so that the garbage collector and the compiler run on the main thread and
// their work is counted in the same way every run. Kernel work (the socket's system calls) is
// not counted: instructions say which code got cheaper, the overhead benchmark says what a host
// pays in seconds.
//
//   node bench/write-path.js [--quick] [--json] [--repeat N] [--batch N] [--warmup N] [--batches N]
//     [--rate N] [--users one,thousand,zipf] [--compare DIST_DIR] [--cpu]
// --compare: also measure another build (its dist/ directory), in the same way, to show what a
// change bought. Needs valgrind (`make bench` installs it).
// --cpu: seconds instead of instructions, without valgrind: the CPU time (user + system, from
// /proc, so the kernel's socket work counts too) of the loop's process and of Redis per entry,
// over --repeat rounds (5 by default) that alternate the builds, so that a busy neighbour hits
// both alike; the loop runs as a host's Node does (no --single-threaded).
import { execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { startRedis } from './lib/redis.js'
import { cpuSeconds } from './lib/proc.js'
import { printResults } from './lib/machine.js'
import { summary, round } from './lib/stats.js'

const here = (p) => fileURLToPath(new URL(p, import.meta.url))
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    repeat: { type: 'string' },
    batch: { type: 'string', default: '190' },
    warmup: { type: 'string' },
    batches: { type: 'string' },
    rate: { type: 'string', default: '30000' },
    compare: { type: 'string' },
    users: { type: 'string', default: 'one,thousand,zipf' },
    cpu: { type: 'boolean', default: false }
  }
})
const CPU = opt.cpu
const REPEAT = Number(opt.repeat ?? (CPU ? 5 : 1))
const BATCH = Number(opt.batch)
const WARMUP = Number(opt.warmup ?? (opt.quick ? 20 : 60))
// Long enough that the garbage collector's cycles average out (with many users they are most of
// what varies between runs).
// (With --cpu: long enough that /proc's 10 ms ticks are under 1 % of a round.)
const BATCHES = Number(opt.batches ?? (CPU ? (opt.quick ? 300 : 1500) : opt.quick ? 20 : 300))
const log = (...a) => console.error(...a)

try {
  if (!CPU) execFileSync('valgrind', ['--version'], { stdio: 'ignore' })
} catch {
  console.error('valgrind is not installed: `make bench` installs it (Debian package valgrind)')
  process.exit(2)
}

const dir = CPU ? null : mkdtempSync(join(tmpdir(), 'userlog-bench-callgrind-'))
const callgrind = (name) => ['valgrind', '--tool=callgrind', `--callgrind-out-file=${join(dir, name)}.%p`]

/** Instructions counted in `pid` since its counters were last zeroed (callgrind_control dumps them). */
function instructions (pid, name) {
  execFileSync('callgrind_control', ['--dump', String(pid)], { stdio: 'ignore' })
  const dumps = readdirSync(dir).filter((f) => f.startsWith(`${name}.${pid}.`))
    .sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()))
  const text = readFileSync(join(dir, dumps.at(-1)), 'utf8')
  const m = /^summary: (\d+)/m.exec(text) ?? /^totals: (\d+)/m.exec(text)
  if (m === null) throw new Error(`no instruction count in ${dumps.at(-1)}`)
  return Number(m[1])
}
const zero = (pid) => execFileSync('callgrind_control', ['--zero', String(pid)], { stdio: 'ignore' })

/** Waits until `child` prints `word` on its stdout. */
function printed (child, word) {
  return new Promise((resolve, reject) => {
    let out = ''
    const onData = (d) => {
      out += d
      if (out.includes(word)) { child.stdout.off('data', onData); resolve() }
    }
    child.stdout.on('data', onData)
    child.once('exit', (code) => reject(new Error(`write-loop exited with code ${code} before "${word}"`)))
  })
}

const redis = await startRedis({ wrapper: CPU ? [] : callgrind('redis') })
const admin = redis.client()

/** Redis's own instructions per ms while idle (its timers), to subtract from a measured window. */
async function redisIdlePerMs () {
  zero(redis.pid)
  const t0 = performance.now()
  await sleep(3000)
  return instructions(redis.pid, 'redis') / (performance.now() - t0)
}

/**
 * How a measurement counts, from the moment the loop is warm to its end: Redis's and the loop's
 * CPU seconds from /proc (--cpu, µs per entry), or their instructions under callgrind (minus
 * Redis's idle instructions over the same time, `idlePerMs`).
 */
const counter = CPU
  ? {
      command: [process.execPath],
      start: (pid) => ({ host: cpuSeconds(pid), redis: cpuSeconds(redis.pid) }),
      perEntry: (pid, start, _ms, entries) => ({
        host: (cpuSeconds(pid) - start.host) * 1e6 / entries,
        redis: (cpuSeconds(redis.pid) - start.redis) * 1e6 / entries
      })
    }
  : {
      command: [...callgrind('node'), process.execPath, '--single-threaded'],
      start: (pid) => { zero(pid); zero(redis.pid); return null },
      perEntry: (pid, _start, ms, entries) => ({
        host: instructions(pid, 'node') / entries,
        redis: (instructions(redis.pid, 'redis') - idlePerMs * ms) / entries
      })
    }
let idlePerMs = 0

/** One measurement: host and Redis figures per entry for `set` with the build in `dist` (`counter`). */
async function measure (dist, set) {
  await admin.flushall()
  const [command, ...args] = counter.command
  const child = spawn(command, [...args, here('./lib/write-loop.js'), dist, redis.url, set, String(BATCH),
    String(WARMUP), String(BATCHES), opt.rate], { stdio: ['ignore', 'pipe', 'inherit'] })
  child.stdout.setEncoding('utf8')
  try {
    await printed(child, 'warm')
    const start = counter.start(child.pid)
    const t0 = performance.now()
    const done = printed(child, 'done')
    child.kill('SIGUSR2')
    await done
    const figures = counter.perEntry(child.pid, start, performance.now() - t0, BATCH * BATCHES)
    await new Promise((resolve) => child.exitCode !== null ? resolve() : child.once('exit', resolve))
    return figures
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}

const builds = [['this build', here('../dist')]]
if (opt.compare !== undefined) builds.push(['--compare build', resolve(opt.compare)])
const SETS = Object.fromEntries(Object.entries({ one: '1 user', thousand: '1,000 users', zipf: 'Zipf 10,000 users' })
  .filter(([set]) => opt.users.split(',').includes(set)))
const results = []
try {
  const runs = new Map(builds.flatMap(([label]) => Object.keys(SETS).map((set) => [`${label} ${set}`, []])))
  if (CPU) {
    // Rounds alternate the builds and the user sets, so that drift hits every measurement alike.
    for (let r = 0; r < REPEAT; r++) {
      for (const [set, name] of Object.entries(SETS)) {
        for (const [label, dist] of builds) {
          log(`round ${r + 1}/${REPEAT}: ${label}, ${name}…`)
          runs.get(`${label} ${set}`).push(await measure(dist, set))
        }
      }
    }
  } else {
    idlePerMs = await redisIdlePerMs()
    log(`Redis idle: ${Math.round(idlePerMs)} instructions/ms (subtracted)`)
    for (const [label, dist] of builds) {
      for (const [set, name] of Object.entries(SETS)) {
        for (let r = 0; r < REPEAT; r++) {
          log(`${label}, ${name}: run ${r + 1}/${REPEAT}…`)
          runs.get(`${label} ${set}`).push(await measure(dist, set))
        }
      }
    }
  }
  const digits = CPU ? 2 : 0
  for (const [label] of builds) {
    for (const [set, name] of Object.entries(SETS)) {
      for (const side of ['host', 'redis']) {
        const s = summary(runs.get(`${label} ${set}`).map((x) => x[side]))
        const which = builds.length > 1 ? ` (${label})` : ''
        results.push({
          name: `${side === 'host' ? 'host' : 'Redis'} ${CPU ? 'CPU' : 'instructions'} per entry, ${name}${which}`,
          value: round(s.median, digits),
          spread: REPEAT > 1 ? `${round(s.min, digits)}–${round(s.max, digits)}` : undefined,
          unit: CPU ? 'µs' : '',
          goal: '',
          pass: null
        })
      }
    }
  }
} finally {
  admin.disconnect()
  await redis.stop()
  if (dir !== null) rmSync(dir, { recursive: true, force: true })
}

printResults({
  benchmark: CPU ? 'write-path-cpu' : 'write-path',
  title: `${CPU ? 'CPU time (user + system)' : 'User-space instructions (callgrind)'} per entry of the write ` +
    `path, batches of ${BATCH}, ${BATCHES} batches after ${WARMUP}` +
    `${REPEAT > 1 ? `, median (min–max) of ${REPEAT} ${CPU ? 'alternating rounds' : 'runs'}` : ''}`,
  results,
  json: opt.json
})
