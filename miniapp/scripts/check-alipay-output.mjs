// Structure check of the mp-alipay build: Alipay's compiler is not installable here, so this
// verifies what its IDE would load: app.json, every page of src/pages.json with its four files,
// every component a page uses, and Alipay (not WeChat) template syntax.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const out = process.env.GJJ_ALIPAY_OUT || join(root, 'dist/build/mp-alipay')
const pagesJson = JSON.parse(readFileSync(join(root, 'src/pages.json'), 'utf8'))
const pagePaths = pagesJson.pages.map((p) => p.path)

function readJson(path) {
  return JSON.parse(readFileSync(path, 'utf8'))
}

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const full = join(dir, name)
    return statSync(full).isDirectory() ? walk(full) : [full]
  })
}

test('the build output exists', () => {
  assert.ok(existsSync(out), `${out} is missing: run npm run build:mp-alipay first`)
})

test('app.json lists exactly the pages of pages.json, login first', () => {
  const app = readJson(join(out, 'app.json'))
  assert.deepEqual(app.pages, pagePaths)
  assert.equal(app.pages[0], 'pages/login/index')
  assert.ok(app.window && app.window.defaultTitle, 'window.defaultTitle (Alipay key) is set')
  assert.ok(existsSync(join(out, 'app.js')), 'app.js')
  assert.ok(existsSync(join(out, 'app.acss')), 'app.acss')
})

test('every page has .axml, .js, .acss and .json', () => {
  const missing = []
  for (const page of pagePaths) {
    for (const ext of ['axml', 'js', 'acss', 'json']) {
      if (!existsSync(join(out, `${page}.${ext}`))) missing.push(`${page}.${ext}`)
    }
  }
  assert.deepEqual(missing, [])
})

test('every component a page or component uses is in the output', () => {
  const missing = []
  for (const file of walk(out).filter((f) => f.endsWith('.json') && existsSync(f.replace(/\.json$/, '.axml')))) {
    const using = readJson(file).usingComponents || {}
    for (const [name, rel] of Object.entries(using)) {
      const base = rel.startsWith('/') ? join(out, rel) : resolve(dirname(file), rel)
      for (const ext of ['axml', 'js', 'json']) {
        if (!existsSync(`${base}.${ext}`)) missing.push(`${name} → ${base}.${ext}`)
      }
    }
  }
  assert.deepEqual(missing, [])
})

test('templates use Alipay syntax only', () => {
  const offending = walk(out)
    .filter((f) => f.endsWith('.axml'))
    .filter((f) => /\swx:(if|for|elif|else|key)|\sbind(tap|input|change)=/.test(readFileSync(f, 'utf8')))
  assert.deepEqual(offending, [])
  assert.equal(walk(out).filter((f) => /\.(wxml|wxss)$/.test(f)).length, 0)
})

test('the Alipay login is compiled in, and the WeChat one is not', () => {
  const login = readFileSync(join(out, 'pages/login/index.js'), 'utf8')
  assert.match(login, /getAuthCode/)
  assert.match(login, /\/channels\/alipay\/sessions/)
  assert.doesNotMatch(login, /\/channels\/wechat\/sessions/)
  assert.match(readFileSync(join(out, 'pages/login/index.axml'), 'utf8'), /支付宝登录/)
})
