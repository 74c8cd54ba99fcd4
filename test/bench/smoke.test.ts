// The benchmarks that drive the plugin's own write path (its internal modules, not its public
// API) still run against the current build: a change to those internals once broke
// bench/script-cost.js unnoticed until the next `make bench`. Quick runs; their figures are not
// checked against goals here, only that each one is a measurement.
import t from 'tap'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ensureBuilt, ROOT } from '../helpers/demo-build.js'

await ensureBuilt()

interface BenchResult { name: string, value: number | string }
interface BenchOutput { benchmark: string, results: BenchResult[] }

// The benchmarks run outside tap's coverage: their own code is not what the coverage figures are
// about. tap adds its hook to every child's environment, so `env -u` takes it out again.
const UNSET = ['NODE_OPTIONS', 'NODE_V8_COVERAGE'].flatMap((name) => ['-u', name])

async function runBench (file: string, args: string[]): Promise<BenchOutput> {
  const argv = [...UNSET, process.execPath, join(ROOT, 'bench', file), '--json', '--quick', ...args]
  const { stdout } = await promisify(execFile)('env', argv, { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 })
  return JSON.parse(stdout.slice(stdout.indexOf('{'))) as BenchOutput
}

/** The numbers a figure holds: a number, or a "min / median / max" string. */
const numbers = (value: number | string): number[] =>
  typeof value === 'number' ? [value] : value.split('/').map((part) => Number(part.trim()))

t.test('script-cost measures each mechanism and the write script', async (t) => {
  const out = await runBench('script-cost.js', [])
  t.equal(out.benchmark, 'script-cost')
  const names = out.results.map((r) => r.name)
  for (const users of ['1 user', '50 users']) {
    t.ok(names.includes(`write script, ${users} per batch, nobody watching`), users)
    t.ok(names.includes(`write script, ${users} per batch, all-users stream watched`), users)
  }
  for (const r of out.results) {
    const values = numbers(r.value)
    t.ok(values.length > 0 && values.every((v) => Number.isFinite(v) && v > 0), `${r.name}: ${String(r.value)}`)
  }
})

t.test('write-path --cpu measures the host and Redis per entry', async (t) => {
  const out = await runBench('write-path.js', ['--cpu', '--users', 'one,thousand'])
  t.equal(out.benchmark, 'write-path-cpu')
  t.same(out.results.map((r) => r.name), [
    'host CPU per entry, 1 user', 'Redis CPU per entry, 1 user',
    'host CPU per entry, 1,000 users', 'Redis CPU per entry, 1,000 users'
  ])
  // The loop writes every entry through the plugin's writer (it exits non-zero on a dropped or
  // failed batch), so the host's CPU per entry is more than nothing.
  for (const r of out.results.filter((r) => r.name.startsWith('host'))) {
    t.ok(typeof r.value === 'number' && r.value > 0, `${r.name}: ${String(r.value)}`)
  }
})
