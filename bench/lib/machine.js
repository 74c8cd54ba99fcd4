// What a benchmark ran on: printed with every result so figures from different hosts are not compared blindly.
import os from 'node:os'
import { readFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { redisServerVersion } from './redis.js'

const root = fileURLToPath(new URL('../../', import.meta.url))

function packageVersion (name) {
  try {
    return JSON.parse(readFileSync(`${root}node_modules/${name}/package.json`, 'utf8')).version
  } catch {
    return null
  }
}

function gitCommit () {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']
    }).trim()
  } catch {
    return null
  }
}

export function machine () {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memoryGiB: Math.round(os.totalmem() / 2 ** 30 * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: redisServerVersion(),
    fastify: packageVersion('fastify'),
    ioredis: packageVersion('ioredis'),
    autocannon: packageVersion('autocannon'),
    plugin: JSON.parse(readFileSync(`${root}package.json`, 'utf8')).version,
    commit: gitCommit()
  }
}

/** One line for a terminal or a markdown document. */
export function machineLine (m) {
  return `${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os} · Node ${m.node} · ` +
    `Redis ${m.redis ?? 'not installed'} · fastify ${m.fastify} · ioredis ${m.ioredis} · ` +
    `autocannon ${m.autocannon} · fastify-userlog ${m.plugin}${m.commit ? ` (${m.commit})` : ''}`
}

/**
 * Prints a benchmark's figures: one JSON line for bench/run.js with --json, else a markdown table
 * headed by the machine. `results` rows are { name, value, unit, goal, pass }.
 */
export function printResults ({ benchmark, title, results, json, extra = {} }) {
  if (json) {
    console.log(JSON.stringify({ benchmark, title, machine: machine(), ...extra, results }))
    return
  }
  console.log(`\n${title} — ${machineLine(machine())}`)
  console.log('| figure | value | unit | goal |\n|---|---:|---|---|')
  for (const r of results) {
    console.log(`| ${r.name} | ${r.value}${r.spread ? ` (${r.spread})` : ''} | ${r.unit} | ${r.goal ?? '—'} |`)
  }
}
