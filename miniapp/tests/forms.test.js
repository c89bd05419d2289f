const { platform, reset, route, login, openPage, settle, tap, text, type } = require('./harness')

beforeEach(() => {
  reset()
  login()
})

test('a withdrawal retried after a failure reuses its Idempotency-Key', async () => {
  route('GET', '/withdrawals/eligibility', { data: { eligible: true, withdrawable_amount: '8000.00', explanation: '租房提取每月限额' } })
  route('POST', '/sms-codes/transaction', { statusCode: 202, data: { resend_after: 60, expires_in: 300 } })
  let attempts = 0
  route('POST', '/withdrawals', () => {
    attempts += 1
    return attempts === 1
      ? { statusCode: 503, data: { code: 503, message: '服务暂时不可用，请稍后重试', error_code: 'service.unavailable' } }
      : { statusCode: 201, data: { id: 'A1', kind: 'withdrawal', status: '受理中', amount: '1200.50', submitted_at: '2024-03-01T02:00:00Z' } }
  })
  const page = await openPage('pages/fund/withdraw')

  // pick 租赁自住住房 as the picker would
  page.querySelector('.withdraw__reason').dispatchEvent('change', { detail: { value: '2' } })
  await settle()
  expect(platform.requests.find((r) => r.path === '/withdrawals/eligibility').query).toEqual({ reason: 'rent' })

  await type(page.querySelector('.withdraw__amount'), '1200.50')
  await type(page.querySelector('.withdraw__bank'), '6222020200112233445')
  await tap(page.querySelector('.sms-row').querySelector('.sms-field__send'))
  await type(page.querySelector('.sms-row').querySelector('.sms-field__input'), '123456')
  await tap(page.querySelector('.withdraw__submit'))
  await tap(page.querySelector('.withdraw__submit'))

  const posts = platform.requests.filter((r) => r.method === 'POST' && r.path === '/withdrawals')
  expect(posts).toHaveLength(2)
  expect(posts[0].header['Idempotency-Key']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  expect(posts[1].header['Idempotency-Key']).toBe(posts[0].header['Idempotency-Key'])
  expect(posts[1].data).toEqual({ reason: 'rent', amount: '1200.50', bank_account: '6222020200112233445', sms_code: '123456' })
  expect(platform.requests.find((r) => r.path === '/sms-codes/transaction').data).toEqual({})
  expect(platform.toasts).toContain('服务暂时不可用，请稍后重试')
  expect(text(page.querySelector('.withdraw__result').querySelector('.app-result__title'))).toBe('提取申请已提交')
})

test('a withdrawal corrected after a refusal is a new submission with a new Idempotency-Key', async () => {
  route('GET', '/withdrawals/eligibility', { data: { eligible: true, withdrawable_amount: '8000.00' } })
  route('POST', '/withdrawals', (req) =>
    req.data.sms_code === '111111'
      ? { statusCode: 422, data: { code: 422, message: '短信验证码不正确', error_code: 'sms.code_invalid' } }
      : { statusCode: 201, data: { id: 'A2', status: '受理中', amount: '100.00' } },
  )
  const page = await openPage('pages/fund/withdraw')
  page.querySelector('.withdraw__reason').dispatchEvent('change', { detail: { value: '2' } })
  await settle()
  await type(page.querySelector('.withdraw__amount'), '100.00')
  await type(page.querySelector('.withdraw__bank'), '6222020200112233445')
  await type(page.querySelector('.sms-row').querySelector('.sms-field__input'), '111111')
  await tap(page.querySelector('.withdraw__submit'))
  await type(page.querySelector('.sms-row').querySelector('.sms-field__input'), '222222')
  await tap(page.querySelector('.withdraw__submit'))

  const posts = platform.requests.filter((r) => r.path === '/withdrawals')
  expect(posts.map((p) => p.data.sms_code)).toEqual(['111111', '222222'])
  expect(posts[1].header['Idempotency-Key']).not.toBe(posts[0].header['Idempotency-Key'])
  expect(platform.toasts).toContain('短信验证码不正确')
})

test('an amount above the withdrawable amount is refused before any request', async () => {
  route('GET', '/withdrawals/eligibility', { data: { eligible: true, withdrawable_amount: '999.99' } })
  const page = await openPage('pages/fund/withdraw')
  page.querySelector('.withdraw__reason').dispatchEvent('change', { detail: { value: '0' } })
  await settle()
  await type(page.querySelector('.withdraw__amount'), '1000.00')
  await type(page.querySelector('.withdraw__bank'), '6222020200112233445')
  await type(page.querySelector('.sms-row').querySelector('.sms-field__input'), '123456')

  await tap(page.querySelector('.withdraw__submit'))

  expect(platform.toasts).toEqual(['提取金额不能超过可提取金额'])
  expect(platform.requests.filter((r) => r.path === '/withdrawals')).toHaveLength(0)
})

test('switching the sound off tunnels PATCH /me/preferences through POST, as wx.request has no PATCH', async () => {
  route('GET', '/me', { data: { name: '张三', account: { account_no: '1001', status: '正常', balance: '52000.00' } } })
  route('GET', '/me/preferences', { data: { sound_enabled: true, push_channels: [] } })
  route('GET', '/messages/unread-count', { data: { count: 3 } })
  route('GET', '/loans', { data: { items: [], notice: '您未办理贷款业务，如需办理贷款业务，请回到主页面进行贷款申请' } })
  route('POST', '/me/preferences', (req) => ({ data: { sound_enabled: req.data.sound_enabled, push_channels: [] } }))
  const page = await openPage('pages/home/index')

  expect(page.querySelector('.badge').dom.textContent).toBe('3')
  await tap(page.querySelectorAll('.home__tool')[1])

  const patch = platform.requests.find((r) => r.method === 'POST' && r.path === '/me/preferences')
  expect(patch.header['X-HTTP-Method-Override']).toBe('PATCH')
  expect(patch.data).toEqual({ sound_enabled: false })
  expect(platform.toasts).toContain('音效已关闭')
  expect(page.querySelectorAll('.home__tool')[1].dom.textContent).toBe('开启音效')
})
