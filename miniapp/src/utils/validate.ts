// Client-side checks that mirror the centre's rules, so members see the problem before a round trip.

/** 6–18 characters, letters and digits, at least one of each (manual 1.2). */
export function isValidPassword(value: string): boolean {
  return /^(?=.*[A-Za-z])(?=.*\d)[A-Za-z\d]{6,18}$/.test(value)
}

export function isValidPhone(value: string): boolean {
  return /^1\d{10}$/.test(value)
}

const WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
const CHECK = '10X98765432'

/** 18-digit resident ID number with its GB 11643 check character. */
export function isValidIdNumber(value: string): boolean {
  const v = value.toUpperCase()
  if (!/^\d{17}[\dX]$/.test(v)) return false
  let sum = 0
  for (let i = 0; i < 17; i += 1) sum += Number(v[i]) * WEIGHTS[i]
  return CHECK[sum % 11] === v[17]
}

/** A positive amount with at most two decimals, as the API takes it. */
export function isValidAmount(value: string): boolean {
  return /^(0|[1-9]\d{0,11})(\.\d{1,2})?$/.test(value) && !/^0(\.0{1,2})?$/.test(value)
}

/** Compare two non-negative decimal strings exactly (no float): -1, 0 or 1. */
export function compareAmounts(a: string, b: string): number {
  const [ai, af = ''] = a.split('.')
  const [bi, bf = ''] = b.split('.')
  const width = Math.max(af.length, bf.length, 2)
  const na = (ai.replace(/^0+/, '') || '0') + af.padEnd(width, '0')
  const nb = (bi.replace(/^0+/, '') || '0') + bf.padEnd(width, '0')
  const sa = na.replace(/^0+(?=\d)/, '')
  const sb = nb.replace(/^0+(?=\d)/, '')
  if (sa.length !== sb.length) return sa.length < sb.length ? -1 : 1
  if (sa === sb) return 0
  return sa < sb ? -1 : 1
}
