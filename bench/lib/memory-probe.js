// Preloaded into a benchmark's child process (node --import, with an IPC channel) so that the
// bench can ask it for its own memory: { type: 'memory', id } is answered with
// { type: 'memory', id, memory: process.memoryUsage() }, taken after a full GC when the child runs
// with --expose-gc (heap used after GC is what a leak makes grow; before it, it is mostly garbage).
// { type: 'heap-snapshot', id, file } writes a V8 heap snapshot to `file` (to find what grows).
// It never keeps the child alive: the IPC channel is unreferenced.
import { writeHeapSnapshot } from 'node:v8'

if (typeof process.send === 'function') {
  process.on('message', (msg) => {
    if (msg?.type === 'memory') {
      if (typeof globalThis.gc === 'function') globalThis.gc()
      process.send({ type: 'memory', id: msg.id, memory: process.memoryUsage() })
    } else if (msg?.type === 'heap-snapshot') {
      if (typeof globalThis.gc === 'function') globalThis.gc()
      process.send({ type: 'heap-snapshot', id: msg.id, file: writeHeapSnapshot(msg.file) })
    }
  })
  process.channel?.unref()
}

export const PROBE = new URL(import.meta.url).href

/** The execArgv that loads this probe into a forked child. */
export const probeExecArgv = ['--expose-gc', '--import', PROBE]

/** Asks a child started with `probeExecArgv` and an IPC channel for `{ type, ... }`; its answer. */
export function askChild (proc, type, fields = {}, timeoutMs = 30_000) {
  const id = Math.random().toString(36).slice(2)
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg?.type !== type || msg.id !== id) return
      clearTimeout(timer)
      proc.off('message', onMessage)
      resolve(msg)
    }
    const timer = setTimeout(() => {
      proc.off('message', onMessage)
      reject(new Error(`no '${type}' answer from process ${proc.pid}`))
    }, timeoutMs)
    proc.on('message', onMessage)
    proc.send({ type, id, ...fields })
  })
}
