// A free TCP port on 127.0.0.1, for the tests, the benchmarks and the demo: the OS picks one, we
// close it and hand it on (another process could take it in between; on a test machine none does).
import { createServer } from 'node:net'

/** @returns {Promise<number>} */
export async function freePort () {
  return await new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.once('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}
