// Display helpers. Money stays the API's decimal string: it is shown, never computed with floats.

/** A decimal string with thousands separators, digit for digit: '-1234567.5' → '-1,234,567.5'.
 * Worked on the string, never through a float, so no amount loses a fen. Anything that is not a
 * plain decimal comes back unchanged. */
export function grouped(value: string | number | null | undefined): string {
  if (value === null || value === undefined || value === '') return ''
  const raw = String(value).trim()
  const m = /^([+-]?)(\d+)(\.\d+)?$/.exec(raw)
  if (!m) return raw
  return `${m[1]}${m[2].replace(/\B(?=(\d{3})+(?!\d))/g, ',')}${m[3] || ''}`
}

export function money(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—'
  return `${grouped(value)} 元`
}

export function text(value: unknown): string {
  if (value === null || value === undefined || value === '') return '—'
  return String(value)
}

export function percent(value: string | null | undefined): string {
  if (value === null || value === undefined || value === '') return '—'
  return String(value).endsWith('%') ? String(value) : `${value}%`
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n)
}

/** ISO date-time from the API (UTC or with offset) shown in Asia/Shanghai, 'YYYY-MM-DD HH:mm'. */
export function dateTime(value: string | null | undefined): string {
  if (!value) return '—'
  if (/^\d{4}-\d{2}-\d{2}$/.test(value)) return value
  const ms = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(value) ? value : `${value}Z`)
  if (Number.isNaN(ms)) return value
  const d = new Date(ms + 8 * 3600 * 1000)
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

/** Today's date in Asia/Shanghai as YYYY-MM-DD, shifted by the given number of months. */
export function shanghaiDate(monthOffset = 0): string {
  const d = new Date(Date.now() + 8 * 3600 * 1000)
  let y = d.getUTCFullYear()
  let m = d.getUTCMonth() + monthOffset
  y += Math.floor(m / 12)
  m = ((m % 12) + 12) % 12
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate()
  return `${y}-${pad(m + 1)}-${pad(Math.min(d.getUTCDate(), lastDay))}`
}

const CHANNELS: Record<string, string> = {
  core: '核心业务系统',
  web: '个人网厅',
  hall: '个人网厅',
  sms: '短信',
  alipay: '支付宝',
  wechat: '微信',
  counter: '柜台',
}

export function channelName(value: string | null | undefined): string {
  if (!value) return '—'
  return CHANNELS[value] || value
}

const NODE_STATES: Record<string, string> = { done: '已完成', current: '办理中', pending: '未开始' }

export function nodeStateName(state: string): string {
  return NODE_STATES[state] || state
}

// Manual 3.3.2: a yellow node is done, the green node is the one in progress.
export const NODE_COLORS: Record<string, string> = { done: '#f5b800', current: '#19a15f', pending: '#c8c8c8' }

/** First non-empty value among dotted paths: the contract names fields, nested or flat. */
export function pick(obj: Record<string, any> | null | undefined, ...paths: string[]): any {
  if (!obj) return undefined
  for (const path of paths) {
    let cur: any = obj
    for (const key of path.split('.')) {
      cur = cur === null || cur === undefined ? undefined : cur[key]
    }
    if (cur !== undefined && cur !== null && cur !== '') return cur
  }
  return undefined
}

const METHODS: Record<string, string> = {
  equal_installment: '等额本息',
  equal_principal: '等额本金',
}

export function methodName(value: string | null | undefined): string {
  if (!value) return '—'
  return METHODS[value] || value
}

// Withdrawal reason codes (backend/withdrawals/rules.py REASONS): the application list carries the
// code only, the detail carries its name in details.reason_name.
export const WITHDRAWAL_REASONS: Record<string, string> = {
  rent: '租房',
  purchase: '购房',
  loan_repayment: '偿还贷款',
  retirement: '离退休',
  leaving: '离职/户口迁出',
}

/** What an application was for: a withdrawal's reason name, or a loan's purpose (sent as text). */
export function reasonName(app: Record<string, any> | null | undefined): string {
  if (!app) return '—'
  const named = pick(app, 'reason_name', 'details.reason_name')
  if (named) return String(named)
  if (app.kind === 'withdrawal' && WITHDRAWAL_REASONS[app.reason]) return WITHDRAWAL_REASONS[app.reason]
  return text(app.reason)
}

/** The API sends codes with a Chinese `<field>_label` (or `_name`) beside them; show that. */
export function label(obj: Record<string, any> | null | undefined, field: string): string {
  if (!obj) return '—'
  return text(obj[`${field}_label`] || obj[`${field}_name`] || obj[field])
}
