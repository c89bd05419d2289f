// The display helpers of src/utils/format.ts, imported from source (tests/ts-transform.js).
const { grouped, money } = require('../src/utils/format.ts')

test('amounts get thousands separators digit for digit, on the decimal string', () => {
  expect(money('52000.00')).toBe('52,000.00 元')
  expect(money('1000000.00')).toBe('1,000,000.00 元')
  expect(money('999.99')).toBe('999.99 元')
  expect(money('-1500.00')).toBe('-1,500.00 元')
  expect(money('0.00')).toBe('0.00 元')
  expect(money(null)).toBe('—')
  // beyond a float's 15–17 significant digits: no fen may be lost or rounded
  expect(grouped('90071992547409931.01')).toBe('90,071,992,547,409,931.01')
  expect(grouped('123456789012.345678')).toBe('123,456,789,012.345678')
  expect(grouped('+1234')).toBe('+1,234')
  expect(grouped('0.123456')).toBe('0.123456')
})

test('what is not a plain decimal is shown as it came', () => {
  expect(grouped('12%')).toBe('12%')
  expect(grouped('2024-02-15')).toBe('2024-02-15')
  expect(grouped('1e21')).toBe('1e21')
  expect(grouped('')).toBe('')
})
