// The only way the admin page puts text on screen: every string goes through textContent, so
// a username, path or user agent is never parsed as HTML.

/**
 * Creates an element with attributes and children. Strings become text nodes.
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {Array<Node | string | null | undefined>} [children]
 * @returns {HTMLElement}
 */
export function el (tag, attrs = {}, children = []) {
  const node = document.createElement(tag)
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value)
  for (const child of children) {
    if (child === null || child === undefined) continue
    node.append(typeof child === 'string' ? document.createTextNode(child) : child)
  }
  return node
}

/** @param {Element} node @param {unknown} text */
export function setText (node, text) {
  node.textContent = text === undefined || text === null ? '' : String(text)
}

/** @param {Element} node */
export function clear (node) {
  while (node.firstChild) node.removeChild(node.firstChild)
}
