// Idempotency keys for money-moving requests. Mini-programs have no crypto.randomUUID.
function randomBytes(n: number): number[] {
  const out: number[] = []
  const c: any = typeof globalThis !== 'undefined' ? (globalThis as any).crypto : undefined
  if (c && typeof c.getRandomValues === 'function') {
    const buf = new Uint8Array(n)
    c.getRandomValues(buf)
    for (let i = 0; i < n; i += 1) out.push(buf[i])
    return out
  }
  for (let i = 0; i < n; i += 1) out.push(Math.floor(Math.random() * 256))
  return out
}

export function uuid4(): string {
  const b = randomBytes(16)
  b[6] = (b[6] & 0x0f) | 0x40
  b[8] = (b[8] & 0x3f) | 0x80
  const h = b.map((x) => (x < 16 ? '0' : '') + x.toString(16)).join('')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}
