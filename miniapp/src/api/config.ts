// Where the API lives. H5 is served by the backend itself, so the same origin is right there.
// Mini-programs must call a whitelisted HTTPS host, chosen at build time (VITE_GJJ_API_HOST). A
// development build (uni / vite dev, import.meta.env.DEV) can be pointed elsewhere in storage under
// STORAGE_KEY; a production build ignores that key, so nothing written to storage can send a
// member's requests (and tokens) to another host.
const STORAGE_KEY = 'gjj.api_base'

function defaultBase(): string {
  if (import.meta.env.VITE_GJJ_API_BASE) return import.meta.env.VITE_GJJ_API_BASE
  let base = '/api/v1'
  // #ifndef H5
  base = (import.meta.env.VITE_GJJ_API_HOST || 'https://gjj-hall.example.cn') + '/api/v1'
  // #endif
  return base
}

function developerOverride(): string {
  if (!import.meta.env.DEV) return ''
  try {
    return uni.getStorageSync(STORAGE_KEY) || ''
  } catch (e) {
    return ''
  }
}

export function apiBase(): string {
  return (developerOverride() || defaultBase()).replace(/\/+$/, '')
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
