#!/usr/bin/env node
// Runs every benchmark in bench/ that supports --json, one after the other (never two at once:
// they would share the CPU), and prints one markdown table of their figures, with the machine.
//
//   node bench/run.js [--quick] [--only NAME[,NAME]] [--soak] [--json]
//
// A benchmark takes part when its source mentions '--json'. Run with --json (and --quick when
// given), it prints one JSON object on stdout (progress and logs go to stderr):
//   { "benchmark": "overhead", "title": "…",
//     "results": [{ "name": "…", "value": 3.1, "unit": "µs", "goal": "≤ 5", "pass": true }, …] }
// pass is true, false, or null for a figure without a goal; an optional `verdict` string (such
// as 'inside spread': the median meets the goal, some round does not) is shown instead. A
// benchmark whose JSON has no `results` list is shown with its top-level numbers. The soak
// (bench/soak.js, ten minutes) runs only when asked for, with --soak or --only soak.
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { machine, machineLine } from './lib/machine.js'

const dir = fileURLToPath(new URL('.', import.meta.url))
const { values: opt } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string' },
    soak: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false }
  }
})

const only = opt.only ? new Set(opt.only.split(',').map((s) => s.trim().replace(/\.js$/, ''))) : null
const OPT_IN = new Set(['soak.js'])
const wanted = (f) => only === null ? !OPT_IN.has(f) || opt.soak : only.has(basename(f, '.js'))
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.js') && f !== 'run.js')
  .filter((f) => readFileSync(join(dir, f), 'utf8').includes('--json'))
  .filter(wanted)
  .sort((a, b) => (a === 'overhead.js' ? -1 : b === 'overhead.js' ? 1 : a.localeCompare(b)))

// The overhead benchmark runs five times: on a single Redis node, on a three-node Redis Cluster,
// on a single node again with wrk as the load generator instead of autocannon, on a single node
// with the all-users stream watched (the script then also publishes every entry), and at 3,000
// requests/s instead of as many as the server can take (a busy host's usual load rather than its
// limit). The live latency runs twice: from the publish, and from the request through the plugin.
// The write path runs twice: its instructions under callgrind, and its seconds of CPU.
const EXTRA_ARGS = {
  'overhead.js': [[], ['--cluster'], ['--load', 'wrk'], ['--watch-all'], ['--rate', '3000']],
  'live-latency.js': [[], ['--plugin']],
  'write-path.js': [[], ['--cpu']]
}

function runOne (file, extra = []) {
  return new Promise((resolve) => {
    const args = [join(dir, file), '--json', ...(opt.quick ? ['--quick'] : []), ...extra]
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    proc.stdout.setEncoding('utf8')
    proc.stdout.on('data', (d) => { out += d })
    proc.on('close', (code) => {
      const start = out.indexOf('{')
      let data
      try { data = start === -1 ? null : JSON.parse(out.slice(start)) } catch { data = null }
      resolve({ file, code, data })
    })
  })
}

/** Rows of one benchmark's output: its `results`, or else its top-level numbers. */
function rows (data) {
  if (Array.isArray(data.results)) return data.results
  return Object.entries(data)
    .filter(([, v]) => typeof v === 'number')
    .map(([name, value]) => ({ name, value, unit: '', goal: '', pass: null }))
}

const cell = (s) => String(s ?? '').replaceAll('|', '\\|')

async function main () {
  const m = machine()
  const log = opt.json ? console.error : console.log
  if (benches.length === 0) {
    console.error('no benchmark supporting --json found in bench/')
    return 2
  }
  log(`running ${benches.join(', ')}${opt.quick ? ' (quick)' : ''}…`)
  const runs = []
  for (const file of benches) {
    for (const extra of EXTRA_ARGS[file] ?? [[]]) {
      console.error(`\n== ${file} ${extra.join(' ')}`)
      runs.push(await runOne(file, extra))
    }
  }

  let failed = false // a benchmark that did not run; a missed goal shows as MISS
  const table = [['benchmark', 'figure', 'value', 'goal', '']]
  for (const r of runs) {
    const name = basename(r.file, '.js')
    if (r.data === null) {
      failed = true
      table.push([name, `did not produce JSON (exit code ${r.code})`, '', '', 'ERROR'])
      continue
    }
    for (const row of rows(r.data)) {
      const value = typeof row.value === 'number'
        ? `${row.value}${row.unit ? ' ' + row.unit : ''}${row.spread ? ` (${row.spread})` : ''}`
        : row.value
      const verdict = row.verdict ?? (row.pass === true ? 'pass' : row.pass === false ? 'MISS' : '')
      table.push([r.data.benchmark ?? name, row.name, value, row.goal || '—', verdict])
    }
  }

  if (opt.json) {
    const benchmarks = runs.map((r) => ({ file: r.file, exitCode: r.code, ...r.data }))
    process.stdout.write(JSON.stringify({ machine: m, benchmarks }, null, 2) + '\n')
  } else {
    console.log(`\n## fastify-userlog benchmarks${opt.quick ? ' (quick)' : ''}\n`)
    console.log(`Machine: ${machineLine(m)}\n`)
    const [head, ...body] = table
    console.log(`| ${head.join(' | ')} |`)
    console.log(`|${head.map(() => '---').join('|')}|`)
    for (const r of body) console.log(`| ${r.map(cell).join(' | ')} |`)
  }
  return failed ? 2 : 0
}

main().then((code) => { process.exitCode = code }, (err) => {
  console.error(err)
  process.exitCode = 2
})
