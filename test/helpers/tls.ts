// A redis-server that only speaks TLS, with a throw-away CA made by openssl for this test file:
// the CA's certificate (`ca`), and another CA's (`otherCa`) to show what a wrong CA does.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { freePort } from '../../scripts/free-port.js'

function openssl (dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' })
}

/** A CA (ca.crt, ca.key) in `dir` named `name`. */
function makeCa (dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`,
    '-days', '2', '-subj', `/CN=${name}`])
}

export class TlsRedisServer {
  readonly url: string
  readonly caFile: string
  readonly otherCaFile: string
  private constructor (readonly port: number, private readonly dir: string, private readonly proc: ChildProcess) {
    this.url = `rediss://127.0.0.1:${port}`
    this.caFile = join(dir, 'ca.crt')
    this.otherCaFile = join(dir, 'other.crt')
  }

  get ca (): Buffer { return readFileSync(this.caFile) }
  get otherCa (): Buffer { return readFileSync(this.otherCaFile) }

  static async start (): Promise<TlsRedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'userlog-tls-'))
    makeCa(dir, 'ca')
    makeCa(dir, 'other')
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr',
      '-subj', '/CN=localhost'])
    writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n')
    openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', 'server.crt', '-days', '2', '-extfile', 'ext.cnf'])
    const port = await freePort()
    const proc = spawn('redis-server', [
      '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1',
      '--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'),
      '--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no',
      '--save', '', '--appendonly', 'no', '--dir', dir, '--loglevel', 'warning'
    ], { stdio: 'ignore' })
    const server = new TlsRedisServer(port, dir, proc)
    for (let i = 0; i < 100; i++) {
      const c = server.client()
      try {
        await c.ping()
        c.disconnect()
        return server
      } catch {
        c.disconnect()
        await sleep(50)
      }
    }
    throw new Error(`TLS redis-server did not start on port ${port}`)
  }

  /** A client that trusts the test CA. */
  client (): Redis {
    const c = new Redis(this.url, { tls: { ca: this.ca }, maxRetriesPerRequest: 1, retryStrategy: () => null })
    c.on('error', () => {})
    return c
  }

  async stop (): Promise<void> {
    const exited = new Promise((resolve) => this.proc.once('exit', resolve))
    this.proc.kill('SIGKILL')
    await exited
    rmSync(this.dir, { recursive: true, force: true })
  }
}
