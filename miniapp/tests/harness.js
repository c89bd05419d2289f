// Runs pages and components of the mp-weixin build (dist/build/mp-weixin) in miniprogram-simulate,
// with a fake of the WeChat platform (wx.*) in place of the real client: the platform boundary is
// the only thing faked; everything above it is the shipped build.
const fs = require('fs')
const path = require('path')

const OUT = path.resolve(__dirname, '../dist/build/mp-weixin')
const API = 'https://gjj-hall.example.cn/api/v1'

if (!fs.existsSync(path.join(OUT, 'app.js'))) {
  throw new Error(`${OUT} is missing: run npm run build:mp-weixin before the tests`)
}

const platform = {
  storage: {},
  requests: [],
  toasts: [],
  relaunches: [],
  navigations: [],
  routes: [],
  subscribeAnswer: {},
  pullDownStops: 0,
}

global.wx = {
  getStorageSync: (k) => (platform.storage[k] === undefined ? '' : platform.storage[k]),
  setStorageSync: (k, v) => {
    platform.storage[k] = JSON.parse(JSON.stringify(v))
  },
  setStorage: ({ key, data }) => {
    platform.storage[key] = data
  },
  removeStorageSync: (k) => {
    delete platform.storage[k]
  },
  getAppBaseInfo: () => ({ language: 'zh_CN', SDKVersion: '3.3.0' }),
  showToast: (o) => {
    platform.toasts.push(o.title)
    if (o.success) o.success({})
  },
  showLoading: () => {},
  stopPullDownRefresh: () => {
    platform.pullDownStops += 1
  },
  hideLoading: () => {},
  showModal: (o) => o.success && o.success({ confirm: true, cancel: false }),
  setNavigationBarTitle: () => {},
  reLaunch: (o) => platform.relaunches.push(o.url),
  navigateTo: (o) => platform.navigations.push(o.url),
  redirectTo: (o) => platform.navigations.push(o.url),
  navigateBack: () => {},
  login: (o) => o.success({ code: 'wx-login-code', errMsg: 'login:ok' }),
  requestSubscribeMessage: (o) => o.success({ errMsg: 'requestSubscribeMessage:ok', ...platform.subscribeAnswer }),
  request: (o) => {
    const url = new URL(o.url)
    const entry = {
      url: o.url,
      method: o.method || 'GET',
      path: url.pathname.replace('/api/v1', ''),
      query: Object.fromEntries(url.searchParams),
      data: o.data,
      header: o.header || {},
    }
    platform.requests.push(entry)
    const route = platform.routes.find((r) => r.method === entry.method && (typeof r.path === 'string' ? r.path === entry.path : r.path.test(entry.path)))
    const answer = route ? route.answer(entry) : { statusCode: 404, data: { code: 404, message: '未找到', error_code: 'not_found' } }
    setTimeout(() => o.success({ statusCode: answer.statusCode || 200, data: answer.data === undefined ? '' : answer.data, header: {} }), 0)
    return { abort() {} }
  },
}

let appInstance
global.App = (options) => {
  appInstance = options
}
global.getApp = () => appInstance
global.getCurrentPages = () => []
global.Page = () => {}

// miniprogram-simulate must define Component before the uni runtime wraps it.
const simulate = require('miniprogram-simulate')

require(path.join(OUT, 'app.js'))
appInstance.onLaunch({})

function reset() {
  platform.storage = {}
  platform.requests = []
  platform.toasts = []
  platform.relaunches = []
  platform.navigations = []
  platform.routes = []
  platform.subscribeAnswer = {}
  platform.pullDownStops = 0
  // A page left open by the previous test (its polling interval, a pending answer) must not
  // reach into this one.
  jest.clearAllTimers()
}

/** Answer METHOD path (string or RegExp) with {statusCode, data} or a function of the request. */
function route(method, pathOrRe, answer) {
  platform.routes.unshift({ method, path: pathOrRe, answer: typeof answer === 'function' ? answer : () => answer })
}

function login(token = 'access-1') {
  platform.storage['gjj.tokens'] = { access_token: token, refresh_token: 'refresh-1' }
}

/** Render a page of the build; its onLoad runs with the given query, as the platform would. */
const loaded = {}
const components = {}

// Register each component file once and hand its id to every page that uses it: loading the same
// component file a second time under another page leaves that copy inert.
function load(pagePath) {
  if (loaded[pagePath]) return loaded[pagePath]
  const full = path.join(OUT, pagePath)
  const using = JSON.parse(fs.readFileSync(`${full}.json`, 'utf8')).usingComponents || {}
  const ids = {}
  for (const [tag, rel] of Object.entries(using)) {
    const target = rel.startsWith('/') ? path.join(OUT, rel) : path.resolve(path.dirname(full), rel)
    if (!components[target]) components[target] = simulate.load(target, tag, { compiler: 'official', rootPath: OUT })
    ids[tag] = components[target]
  }
  loaded[pagePath] = simulate.load(full, { compiler: 'official', rootPath: OUT, usingComponents: ids })
  return loaded[pagePath]
}

async function openPage(pagePath, query = {}) {
  const id = load(pagePath)
  const page = simulate.render(id)
  page.attach(document.createElement('parent-wrapper'))
  page.instance.onLoad(query)
  if (page.instance.onShow) page.instance.onShow()
  await settle()
  return page
}

/** Let requests, setData and uni's deferred tap handlers run. Timers are jest's fake ones
 * (jest.config.js): ``ms`` of virtual time pass, every timer due in it runs in order and the
 * promises each one starts are awaited before the next, however slow the machine is. */
async function settle(ms = 30) {
  await jest.advanceTimersByTimeAsync(ms)
}

async function tap(wrapper) {
  wrapper.dispatchEvent('tap')
  await settle()
}

/** Type into an <input> as the platform reports it: an input event carrying detail.value. */
async function type(wrapper, value) {
  wrapper.dispatchEvent('input', { detail: { value } })
  await settle(5)
}

const FIXTURES = require('./fixtures/api.json')

/** A fresh copy of a response body from fixtures/api.json (held to the backend's schemas by
 * tests/e2e/test_api_fixtures.py), with top-level fields replaced by ``overrides``. */
function fixture(name, overrides = {}) {
  if (!FIXTURES[name]) throw new Error(`no fixture ${name}`)
  return { ...JSON.parse(JSON.stringify(FIXTURES[name].body)), ...overrides }
}

function text(node) {
  return (node.dom || node).textContent.replace(/\s+/g, ' ').trim()
}

module.exports = { API, OUT, platform, reset, route, login, openPage, settle, tap, type, text, fixture, simulate }
