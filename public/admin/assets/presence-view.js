// How a presence looks: one badge element for a user's log and for Active now, from the shared
// presence rule (rules/presence.js).
import { el } from './dom.js'
import { timeElement } from './time.js'

const TEXT = { active: 'Active', away: 'Away', gone: 'Gone' }
const HINT = {
  active: 'on the page, tab visible and focused',
  away: 'tab hidden or no activity',
  gone: 'left the page'
}

/**
 * @param {{ state: 'active' | 'away' | 'gone', since: number, page: string | null } | null} p
 * @param {{ withPage?: boolean }} [options]
 */
export function presenceBadge (p, options = {}) {
  if (p === null) return el('span', { class: 'presence none' }, ['No browser activity'])
  const badge = el('span', { class: `presence ${p.state}`, 'data-state': p.state, title: HINT[p.state] },
    [el('span', { class: 'dot', 'aria-hidden': 'true' }), TEXT[p.state]])
  const parts = [badge]
  if (options.withPage !== false && p.page !== null) {
    parts.push(el('span', { class: 'presence-page' }, [` on ${p.page}`]))
  }
  parts.push(el('span', { class: 'presence-since' }, [' since ', timeElement(p.since)]))
  return el('span', { class: 'presence-line' }, parts)
}
