// Entry ids: unique, and made of letters and digits only, so a spreadsheet never reads one as a
// formula and an id copied from a CSV export is the id the API and the admin page show.
import t from 'tap'
import { nextId } from '../../src/write/entry.js'
import { csvCell } from '../../src/report/csv.js'

t.test('ids are letters and digits, of one prefix and a growing counter, and survive a CSV cell', async (t) => {
  const ids = Array.from({ length: 1000 }, () => nextId())
  t.equal(new Set(ids).size, ids.length, 'no id twice')
  for (const id of ids) {
    if (!/^[0-9a-z]{11,}$/.test(id)) t.fail(`id ${id} is not letters and digits`)
    if (csvCell(id) !== id) t.fail(`id ${id} changes in a CSV cell`)
  }
  t.equal(new Set(ids.map((id) => id.slice(0, 10))).size, 1, 'one prefix per process')
})
