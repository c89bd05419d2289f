// The one HTTP choke point of the app: base URL, bearer token, one refresh on 401, the API's
// error envelope turned into ApiError with its Chinese message shown as it came.
import { apiBase, REQUEST_TIMEOUT_MS } from './config'
import type { components, paths } from './schema'
import { clearSession, getTokens, goLogin, saveSession } from './session'

// Types generated from the backend's OpenAPI document (src/api/schema.d.ts, `make miniapp-types`).
export type Schemas = components['schemas']
type Method = 'get' | 'post' | 'put' | 'patch' | 'delete'
type JsonOf<R> = R extends { content: { 'application/json': infer B } } ? B : undefined
type Success<Op> = Op extends { responses: infer Rs }
  ? 200 extends keyof Rs
    ? JsonOf<Rs[200]>
    : 201 extends keyof Rs
      ? JsonOf<Rs[201]>
      : 202 extends keyof Rs
        ? JsonOf<Rs[202]>
        : undefined
  : never
/** The JSON a successful ``M`` of ``P`` answers, as the OpenAPI document declares it. A path with
 * its parameters filled in (``/loans/${no}``) is a plain string: its answer stays untyped. */
export type Answer<P extends string, M extends Method> = string extends P
  ? any
  : P extends keyof paths
    ? M extends keyof paths[P]
      ? Success<paths[P][M]>
      : never
    : any

export type Query = Record<string, string | number | boolean | null | undefined>

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  query?: Query
  data?: unknown
  headers?: Record<string, string>
  /** false for the public endpoints (captcha, login, registration, calculator). */
  auth?: boolean
  /** Text of a blocking loading indicator; omit for none. */
  loading?: string
  /** true when the caller shows the error itself (e.g. the WeChat binding flow). */
  silent?: boolean
}

export class ApiError extends Error {
  readonly status: number
  readonly errorCode: string
  readonly errors: Record<string, unknown> | undefined
  readonly body: Record<string, any>

  constructor(status: number, body: Record<string, any>) {
    super(typeof body.message === 'string' && body.message ? body.message : fallbackMessage(status))
    this.status = status
    this.errorCode = body.error_code || ''
    this.errors = body.errors
    this.body = body
  }
}

/** The first reason per field of an error envelope's ``errors`` ({field: [reason, …]}), for a
 * form that shows each reason beside its field. Nested objects and non-lists are skipped. */
export function fieldReasons(err: unknown): Record<string, string> {
  const reasons: Record<string, string> = {}
  const errors = err instanceof ApiError ? err.errors : undefined
  if (!errors) return reasons
  Object.keys(errors).forEach((field) => {
    const list = errors[field]
    if (Array.isArray(list) && typeof list[0] === 'string' && list[0]) reasons[field] = list[0]
  })
  return reasons
}

function fallbackMessage(status: number): string {
  if (status === 0) return '网络连接失败，请稍后重试'
  if (status === 401) return '登录已过期，请重新登录'
  if (status === 429) return '操作过于频繁，请稍后再试'
  if (status >= 500) return '服务暂时不可用，请稍后重试'
  return '请求未成功，请稍后重试'
}

export function buildQuery(query?: Query): string {
  if (!query) return ''
  const parts: string[] = []
  Object.keys(query).forEach((key) => {
    const value = query[key]
    if (value === undefined || value === null || value === '') return
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(String(value))}`)
  })
  return parts.length ? `?${parts.join('&')}` : ''
}

export function apiUrl(path: string, query?: Query): string {
  return `${apiBase()}${path}${buildQuery(query)}`
}

interface RawResponse {
  statusCode: number
  data: any
}

function send(path: string, opts: RequestOptions, token: string | null): Promise<RawResponse> {
  const header: Record<string, string> = { Accept: 'application/json', ...(opts.headers || {}) }
  if (opts.data !== undefined) header['Content-Type'] = 'application/json'
  if (token) header.Authorization = `Bearer ${token}`
  let method: string = opts.method || 'GET'
  // #ifndef H5
  // wx.request and my.request have no PATCH: tunnel it through POST, as the API accepts.
  if (method === 'PATCH') {
    method = 'POST'
    header['X-HTTP-Method-Override'] = 'PATCH'
  }
  // #endif
  return new Promise((resolve) => {
    uni.request({
      url: apiUrl(path, opts.query),
      method: method as any,
      data: opts.data === undefined ? undefined : (opts.data as any),
      header,
      timeout: REQUEST_TIMEOUT_MS,
      dataType: 'json',
      success: (res: any) => resolve({ statusCode: res.statusCode, data: parseBody(res.data) }),
      fail: () => resolve({ statusCode: 0, data: {} }),
    })
  })
}

function parseBody(data: unknown): any {
  if (typeof data !== 'string') return data ?? {}
  if (!data) return {}
  try {
    return JSON.parse(data)
  } catch (e) {
    return { message: '' }
  }
}

// Concurrent 401s share one refresh: the refresh token rotates, so a second refresh with the
// same token would be refused and log the member out.
let refreshing: Promise<boolean> | null = null

export function refreshSession(): Promise<boolean> {
  const tokens = getTokens()
  if (!tokens || !tokens.refresh_token) return Promise.resolve(false)
  if (!refreshing) {
    refreshing = send('/sessions/refresh', { method: 'POST', data: { refresh_token: tokens.refresh_token } }, null)
      .then((res) => {
        if (res.statusCode >= 200 && res.statusCode < 300 && res.data && res.data.access_token) {
          saveSession(res.data)
          return true
        }
        return false
      })
      .finally(() => {
        refreshing = null
      })
  }
  return refreshing
}

function endSession(): void {
  clearSession()
  goLogin()
}

export function showError(message: string): void {
  uni.showToast({ title: message, icon: 'none', duration: 2500 })
}

export async function request<T = any>(path: string, opts: RequestOptions = {}): Promise<T> {
  const useAuth = opts.auth !== false
  if (opts.loading) uni.showLoading({ title: opts.loading, mask: true })
  let res: RawResponse
  try {
    res = await send(path, opts, useAuth ? getTokens()?.access_token || null : null)
    if (res.statusCode === 401 && useAuth) {
      if (await refreshSession()) {
        res = await send(path, opts, getTokens()?.access_token || null)
      }
      if (res.statusCode === 401) {
        endSession()
      }
    }
  } finally {
    // On WeChat the loading indicator and toasts share one layer: hide it before any toast.
    if (opts.loading) uni.hideLoading()
  }
  if (res.statusCode >= 200 && res.statusCode < 300) return res.data as T
  const err = new ApiError(res.statusCode, res.data || {})
  if (!opts.silent) showError(err.message)
  throw err
}

export const api = {
  get: <P extends string>(path: P, query?: Query, opts: RequestOptions = {}) =>
    request<Answer<P, 'get'>>(path, { ...opts, method: 'GET', query }),
  post: <P extends string>(path: P, data?: unknown, opts: RequestOptions = {}) =>
    request<Answer<P, 'post'>>(path, { ...opts, method: 'POST', data: data === undefined ? {} : data }),
  put: <P extends string>(path: P, data?: unknown, opts: RequestOptions = {}) =>
    request<Answer<P, 'put'>>(path, { ...opts, method: 'PUT', data: data === undefined ? {} : data }),
  patch: <P extends string>(path: P, data?: unknown, opts: RequestOptions = {}) =>
    request<Answer<P, 'patch'>>(path, { ...opts, method: 'PATCH', data: data === undefined ? {} : data }),
  del: <P extends string>(path: P, opts: RequestOptions = {}) => request<Answer<P, 'delete'>>(path, { ...opts, method: 'DELETE' }),
}

export interface Page<T> {
  items: T[]
  next_cursor: string | null
  notice?: string
}
