// Token and member storage. Tokens live in the platform's storage so a restart keeps the login;
// they are never logged.
const TOKENS_KEY = 'gjj.tokens'
const MEMBER_KEY = 'gjj.member'

export interface Tokens {
  access_token: string
  refresh_token: string
  token_type?: string
  expires_in?: number
}

export function getTokens(): Tokens | null {
  const raw = uni.getStorageSync(TOKENS_KEY)
  return raw && raw.access_token ? raw : null
}

export function saveSession(body: Tokens & { member?: Record<string, any> }): void {
  uni.setStorageSync(TOKENS_KEY, {
    access_token: body.access_token,
    refresh_token: body.refresh_token,
    token_type: body.token_type,
    expires_in: body.expires_in,
  })
  if (body.member) uni.setStorageSync(MEMBER_KEY, body.member)
}

export function getMember(): Record<string, any> | null {
  return uni.getStorageSync(MEMBER_KEY) || null
}

export function clearSession(): void {
  uni.removeStorageSync(TOKENS_KEY)
  uni.removeStorageSync(MEMBER_KEY)
}

export function isLoggedIn(): boolean {
  return getTokens() !== null
}

export const LOGIN_PAGE = '/pages/login/index'
export const HOME_PAGE = '/pages/home/index'

export function goLogin(): void {
  uni.reLaunch({ url: LOGIN_PAGE })
}

/** For pages that need a member: send a visitor without a session to the login page. */
export function requireLogin(): boolean {
  if (isLoggedIn()) return true
  goLogin()
  return false
}
