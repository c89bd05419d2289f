// node:test over the H5 build (dist/build/h5): no file may name an http(s) URL of another host,
// so a member's browser fetches nothing from a third party (the build works offline, behind the
// hall's own origin). XML namespace names are identifiers the DOM API needs, never fetched.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const OUT = fileURLToPath(new URL('../dist/build/h5', import.meta.url))
const NAMESPACES = new Set([
  'http://www.w3.org/2000/svg',
  'http://www.w3.org/1999/xlink',
  'http://www.w3.org/1999/xhtml',
  'http://www.w3.org/1998/Math/MathML',
  'http://www.w3.org/XML/1998/namespace',
  'http://www.w3.org/2000/xmlns/',
])
const TEXT = /\.(html|js|mjs|css|json|map|txt|svg)$/

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? files(path) : [path]
  })
}

test('the H5 build names no external host', () => {
  assert.ok(existsSync(join(OUT, 'index.html')), `${OUT} is missing: run npm run build:h5 first`)
  const found = []
  for (const path of files(OUT).filter((p) => TEXT.test(p))) {
    const source = readFileSync(path, 'utf8')
    for (const match of source.matchAll(/https?:\/\/[^\s"'`()<>\\]+/g)) {
      const url = match[0]
      const host = url.replace(/^https?:\/\//, '').split(/[/?#:]/)[0]
      if (NAMESPACES.has(url) || host === 'localhost' || host === '127.0.0.1') continue
      found.push(`${relative(OUT, path)}: ${url}`)
    }
  }
  assert.deepEqual(found, [])
})
