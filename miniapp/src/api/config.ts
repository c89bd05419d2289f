// Where the API lives. H5 is served by the backend itself, so the same origin is right there.
// Mini-programs must call a whitelisted HTTPS host, chosen at build time (VITE_GJJ_API_HOST) or,
// for a developer pointing a test build elsewhere, overridden in storage under STORAGE_KEY.
const STORAGE_KEY = 'gjj.api_base'

function defaultBase(): string {
  if (import.meta.env.VITE_GJJ_API_BASE) return import.meta.env.VITE_GJJ_API_BASE
  let base = '/api/v1'
  // #ifndef H5
  base = (import.meta.env.VITE_GJJ_API_HOST || 'https://gjj-hall.example.cn') + '/api/v1'
  // #endif
  return base
}

export function apiBase(): string {
  let override = ''
  try {
    override = uni.getStorageSync(STORAGE_KEY) || ''
  } catch (e) {
    override = ''
  }
  return (override || defaultBase()).replace(/\/+$/, '')
}

export const REQUEST_TIMEOUT_MS = 15000

function splitIds(raw: string | undefined): string[] {
  return (raw || '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

export const WECHAT_TEMPLATE_IDS = splitIds(import.meta.env.VITE_GJJ_WECHAT_TEMPLATE_IDS)
export const ALIPAY_TEMPLATE_IDS = splitIds(import.meta.env.VITE_GJJ_ALIPAY_TEMPLATE_IDS)
