const { platform, reset, route, login, openPage, settle, tap, text, type, fixture } = require('./harness')

beforeEach(() => {
  reset()
  login()
})

/** Choose the reason at ``index`` of the eligibility fixture, as the radio group reports it. */
async function chooseReason(page, index) {
  page.querySelector('.withdraw__reason').dispatchEvent('change', { detail: { value: String(index) } })
  await settle()
}

/** The withdrawal page on the eligibility fixture, with the reason at ``index`` chosen. */
async function openWithdrawal(index) {
  route('GET', '/withdrawals/eligibility', { data: fixture('eligibility') })
  const page = await openPage('pages/fund/withdraw')
  await chooseReason(page, index)
  return page
}

/** What the home page asks for when it is shown. */
function homeRoutes({ me = fixture('me'), unread = fixture('unread_count'), loans = fixture('loans_none') } = {}) {
  route('GET', '/me', { data: me })
  route('GET', '/me/preferences', { data: fixture('preferences') })
  route('GET', '/messages/unread-count', { data: unread })
  route('GET', '/loans', { data: loans })
}

async function fillWithdrawal(page, { amount = '1200.50', smsCode = '123456' } = {}) {
  if (amount !== null) await type(page.querySelector('.withdraw__amount'), amount)
  await type(page.querySelector('.withdraw__bank-name'), '中国建设银行')
  await type(page.querySelector('.withdraw__bank'), '6222020200112233445')
  await type(page.querySelector('.sms-row').querySelector('.sms-field__input'), smsCode)
}

test('the withdrawal page lists the reasons of GET /withdrawals/eligibility with their limits and refusals', async () => {
  route('GET', '/withdrawals/eligibility', { data: fixture('eligibility') })
  const page = await openPage('pages/fund/withdraw')

  expect(platform.requests.find((r) => r.path === '/withdrawals/eligibility').query).toEqual({})
  const labels = page.querySelectorAll('.withdraw__reason-item').map(text)
  expect(labels).toEqual(['租房', '购房', '偿还贷款', '离退休', '离职/户口迁出不可办理'])

  await chooseReason(page, 4)
  expect(text(page.querySelector('.withdraw__refusal'))).toBe('离职提取须在账户封存后办理')
  expect(page.querySelector('.withdraw__submit')).toBeFalsy()

  await chooseReason(page, 0)
  expect(page.querySelector('.withdraw__refusal')).toBeFalsy()
  expect(page.querySelectorAll('.withdraw__limit').map(text)).toContain('· 每个自然月限提取一次')
  expect(page.querySelector('.withdraw__submit')).toBeTruthy()
})

test('a withdrawal retried after a failure reuses its Idempotency-Key', async () => {
  route('POST', '/sms-codes/transaction', { statusCode: 202, data: { resend_after: 60, expires_in: 300, masked_phone: '138****5678' } })
  let attempts = 0
  route('POST', '/withdrawals', () => {
    attempts += 1
    return attempts === 1
      ? { statusCode: 503, data: { code: 503, message: '服务暂时不可用，请稍后重试', error_code: 'service.unavailable' } }
      : { statusCode: 201, data: fixture('withdrawal') }
  })
  const page = await openWithdrawal(0)

  await fillWithdrawal(page, { smsCode: '' })
  await tap(page.querySelector('.sms-row').querySelector('.sms-field__send'))
  await type(page.querySelector('.sms-row').querySelector('.sms-field__input'), '123456')
  await tap(page.querySelector('.withdraw__submit'))
  await tap(page.querySelector('.withdraw__submit'))

  const posts = platform.requests.filter((r) => r.method === 'POST' && r.path === '/withdrawals')
  expect(posts).toHaveLength(2)
  expect(posts[0].header['Idempotency-Key']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
  expect(posts[1].header['Idempotency-Key']).toBe(posts[0].header['Idempotency-Key'])
  expect(posts[1].data).toEqual({ reason: 'rent', amount: '1200.50', bank_name: '中国建设银行', bank_account: '6222020200112233445', sms_code: '123456' })
  expect(platform.requests.find((r) => r.path === '/sms-codes/transaction').data).toEqual({})
  expect(platform.toasts).toContain('服务暂时不可用，请稍后重试')
  const result = page.querySelector('.withdraw__result')
  expect(text(result.querySelector('.app-result__title'))).toBe('提取申请已提交')
  expect(text(result)).toContain('办理中')
  expect(text(result)).toContain('租房')
  expect(text(result)).toContain('TQ2024030100001')
})

test('an amount above the reason’s withdrawable amount is refused before any request', async () => {
  const page = await openWithdrawal(0)
  await fillWithdrawal(page, { amount: '1800.01' })

  await tap(page.querySelector('.withdraw__submit'))

  expect(platform.toasts).toEqual(['提取金额不能超过可提取金额'])
  expect(platform.requests.filter((r) => r.path === '/withdrawals')).toHaveLength(0)
})

test('a purchase withdrawal asks for the contract or title number and sends it as document_no', async () => {
  route('POST', '/withdrawals', { statusCode: 201, data: fixture('withdrawal', { reason: 'purchase', reason_name: '购房' }) })
  const page = await openWithdrawal(1)
  await fillWithdrawal(page, { amount: '30000.00' })

  await tap(page.querySelector('.withdraw__submit'))
  expect(platform.toasts).toEqual(['请输入购房合同编号或不动产权证号'])
  expect(platform.requests.filter((r) => r.path === '/withdrawals')).toHaveLength(0)

  await type(page.querySelector('.withdraw__extra'), 'BJ2024-0001')
  await tap(page.querySelector('.withdraw__submit'))
  const [post] = platform.requests.filter((r) => r.path === '/withdrawals')
  expect(post.data).toMatchObject({ reason: 'purchase', amount: '30000.00', document_no: 'BJ2024-0001' })
  expect(post.data.loan_contract_no).toBeUndefined()
})

test('a full-balance reason takes the amount from the API and shows it unedited', async () => {
  route('POST', '/withdrawals', { statusCode: 201, data: fixture('withdrawal', { reason: 'retirement', amount: '52000.00' }) })
  const page = await openWithdrawal(3)

  expect(page.querySelector('.withdraw__amount')).toBeFalsy()
  expect(text(page.querySelector('.withdraw__amount-fixed'))).toBe('52,000.00 元')
  await fillWithdrawal(page, { amount: null })
  await tap(page.querySelector('.withdraw__submit'))

  const [post] = platform.requests.filter((r) => r.path === '/withdrawals')
  expect(post.data).toMatchObject({ reason: 'retirement', amount: '52000.00' })
})

test('the home page shows the account status name, the unread and to-do counts', async () => {
  homeRoutes({ unread: fixture('unread_count', { unread_count: 5, open_todo_count: 2 }), loans: fixture('loans') })
  const page = await openPage('pages/home/index')

  expect(text(page.querySelector('.badge'))).toBe('5')
  expect(page.querySelectorAll('.badge').map(text)).toEqual(['5', '2'])
  expect(text(page.querySelector('.home__half'))).toContain('账户状态：封存')
  expect(text(page.querySelector('.home__half'))).not.toContain('sealed')
  expect(text(page.querySelector('.home__balance'))).toBe('52,000.00 元')
  expect(text(page.querySelectorAll('.home__half')[1])).toContain('合同 JK2023001（还款中）')

  await tap(page.querySelector('.home__who'))
  const summary = text(page.querySelector('.home__summary'))
  expect(summary).toContain('110100012345')
  expect(summary).toContain('北京某某科技有限公司')
})

test('a member without a fund account sees that, not an error', async () => {
  homeRoutes({ me: fixture('me_without_account'), unread: fixture('unread_count', { unread_count: 0, open_todo_count: 0 }) })
  const page = await openPage('pages/home/index')

  expect(page.querySelector('.badge')).toBeFalsy()
  expect(text(page.querySelector('.home__balance'))).toBe('—')
  await tap(page.querySelector('.home__who'))
  expect(text(page.querySelector('.home__summary'))).toContain('暂无公积金账户')
  expect(platform.toasts).toEqual([])
})

test('switching the sound off tunnels PATCH /me/preferences through POST, as wx.request has no PATCH', async () => {
  homeRoutes()
  route('POST', '/me/preferences', (req) => ({ data: fixture('preferences', { sound_enabled: req.data.sound_enabled }) }))
  const page = await openPage('pages/home/index')

  await tap(page.querySelectorAll('.home__tool')[1])

  const patch = platform.requests.find((r) => r.method === 'POST' && r.path === '/me/preferences')
  expect(patch.header['X-HTTP-Method-Override']).toBe('PATCH')
  expect(patch.data).toEqual({ sound_enabled: false })
  expect(platform.toasts).toContain('音效已关闭')
  expect(page.querySelectorAll('.home__tool')[1].dom.textContent).toBe('开启音效')
})

test('the profile page shows masked identity data and the account status name', async () => {
  route('GET', '/me', { data: fixture('me') })
  const page = await openPage('pages/profile/index')

  const shown = text(page)
  expect(shown).toContain('1101**********001X')
  expect(shown).toContain('138****5678')
  expect(shown).toContain('2024-01-05 09:30')
  expect(shown).toContain('封存')
  expect(shown).not.toContain('sealed')
  expect(shown).toContain('1101000888')
})

test('the fund page shows the ledger rows by date and kind name for the chosen range', async () => {
  route('GET', '/fund/account', { data: fixture('fund_account') })
  route('GET', '/fund/transactions', { data: fixture('transactions') })
  const page = await openPage('pages/fund/index')

  expect(text(page.querySelector('.card'))).toContain('正常')
  expect(text(page.querySelector('.card'))).toContain('12%')
  const rows = page.querySelectorAll('.table__row').slice(1)
  // j-component cannot query inside a page's plain nodes: read the cells off the DOM row
  expect(rows.map((r) => Array.from(r.dom.children).map((c) => c.textContent.trim()))).toEqual([
    ['2024-02-15', '汇缴', '2,400.00', '52,000.00'],
    ['2024-01-20', '提取', '-1,500.00', '49,600.00'],
  ])
  const query = platform.requests.find((r) => r.path === '/fund/transactions').query
  expect(query.start).toMatch(/^\d{4}-\d{2}-\d{2}$/)
  expect(query.end).toMatch(/^\d{4}-\d{2}-\d{2}$/)
})

test('an API refusal of the date range shows its message', async () => {
  route('GET', '/fund/account', { data: fixture('fund_account') })
  route('GET', '/fund/transactions', {
    statusCode: 422,
    data: { code: 422, status: 'Unprocessable Entity', message: '每次最多查询5年的缴存支取记录，请缩小查询范围', error_code: 'fund.range_too_long', errors: { start: ['每次最多查询5年的缴存支取记录，请缩小查询范围'] } },
  })
  await openPage('pages/fund/index')

  expect(platform.toasts).toEqual(['每次最多查询5年的缴存支取记录，请缩小查询范围'])
})

test('我发起的 names a withdrawal by its reason and shows the status name', async () => {
  route('GET', '/applications', { data: fixture('applications') })
  const page = await openPage('pages/applications/index')

  const item = text(page.querySelector('.app'))
  expect(item).toContain('租房')
  expect(item).toContain('办理中')
  expect(item).toContain('当前环节：受理')
  expect(item).not.toContain('rent')
  expect(platform.requests[0].query).toMatchObject({ kind: 'withdrawal' })
})

test('a logged-in session keeps the brief member of POST /sessions', async () => {
  platform.storage = {}
  route('POST', '/captchas', { statusCode: 201, data: { captcha_id: 'c1', image: 'data:image/png;base64,iVBORw0KGgo=', expires_in: 300 } })
  route('POST', '/sessions', { statusCode: 201, data: fixture('session') })
  const page = await openPage('pages/login/index')

  await type(page.querySelectorAll('.field__input')[0], '110105199005170011')
  await type(page.querySelectorAll('.field__input')[1], 'abc12345')
  await type(page.querySelector('.captcha-row').querySelector('.field__input'), '1234')
  await tap(page.querySelector('.btn-primary'))

  const login = platform.requests.find((r) => r.path === '/sessions')
  expect(login.data).toEqual({ username: '110105199005170011', password: 'abc12345', captcha_id: 'c1', captcha_code: '1234' })
  expect(platform.storage['gjj.tokens'].access_token).toBe('access-9')
  expect(platform.storage['gjj.member']).toEqual(fixture('session').member)
  expect(platform.relaunches).toEqual(['/pages/home/index'])
})

test('the last password-reset step answers 204 and the page says 重置完成', async () => {
  platform.storage = {}
  route('POST', '/captchas', { statusCode: 201, data: { captcha_id: 'c1', image: 'data:image/png;base64,iVBORw0KGgo=', expires_in: 300 } })
  route('POST', '/password-resets', { statusCode: 201, data: { reset_id: 'r1', masked_phone: '138****5678', expires_in: 900 } })
  route('POST', '/password-resets/r1/sms-codes', { statusCode: 202, data: { resend_after: 60, expires_in: 300, masked_phone: '138****5678' } })
  route('POST', '/password-resets/r1/verification', { data: { verified: true } })
  route('PUT', '/password-resets/r1/password', { statusCode: 204 })
  const page = await openPage('pages/forgot/index')

  await type(page.querySelectorAll('.field__input')[0], '张三')
  await type(page.querySelectorAll('.field__input')[1], '110105199005170011')
  await type(page.querySelector('.captcha-row').querySelector('.field__input'), '1234')
  await tap(page.querySelector('.btn-primary'))
  expect(text(page.querySelector('.field__value'))).toBe('138****5678')

  await tap(page.querySelector('.sms-row').querySelector('.sms-field__send'))
  await type(page.querySelector('.sms-row').querySelector('.sms-field__input'), '654321')
  await tap(page.querySelector('.btn-primary'))
  await type(page.querySelectorAll('.field__input')[0], 'newpass123')
  await type(page.querySelectorAll('.field__input')[1], 'newpass123')
  await tap(page.querySelector('.btn-primary'))

  const put = platform.requests.find((r) => r.method === 'PUT')
  expect(put).toMatchObject({ path: '/password-resets/r1/password', data: { new_password: 'newpass123' } })
  expect(text(page.querySelector('.done__title'))).toBe('重置完成')
  expect(platform.toasts).toContain('重置完成')
})

test('consent to subscription messages asks for the backend’s templates and records the answers in one POST', async () => {
  homeRoutes()
  route('GET', '/me/subscriptions', { data: fixture('subscriptions') })
  route('POST', '/me/subscriptions', { statusCode: 201, data: fixture('subscriptions') })
  platform.subscribeAnswer = { 'tmpl-progress': 'accept', 'tmpl-arrival': 'reject' }
  const page = await openPage('pages/home/index')

  expect(platform.requests.find((r) => r.path === '/me/subscriptions').query).toEqual({ channel: 'wechat' })
  await tap(page.querySelector('.btn-plain'))

  const post = platform.requests.find((r) => r.method === 'POST' && r.path === '/me/subscriptions')
  expect(post.data).toEqual({ channel: 'wechat', results: { 'tmpl-progress': 'accept', 'tmpl-arrival': 'reject' } })
  expect(platform.toasts).toContain('已开启消息提醒')
})

test('a WeChat member without a binding binds with ID number and password, then is logged in', async () => {
  platform.storage = {}
  route('POST', '/captchas', { statusCode: 201, data: { captcha_id: 'c1', image: 'data:image/png;base64,iVBORw0KGgo=', expires_in: 300 } })
  route('POST', '/channels/wechat/sessions', {
    statusCode: 403,
    data: { code: 403, status: 'Forbidden', message: '请先绑定公积金账户', error_code: 'wechat.binding_required', binding_token: 'bt-1', expires_in: 600 },
  })
  route('POST', '/channels/wechat/bindings', { statusCode: 201, data: fixture('session') })
  const page = await openPage('pages/login/index')

  await tap(page.querySelector('.login__channel'))
  expect(platform.requests.find((r) => r.path === '/channels/wechat/sessions').data).toEqual({ code: 'wx-login-code' })
  expect(platform.toasts).toEqual([])
  await type(page.querySelector('.login__bind-id'), '110105199005170011')
  await type(page.querySelector('.login__bind-password'), 'abc12345')
  await tap(page.querySelector('.login__bind-submit'))

  const bind = platform.requests.find((r) => r.path === '/channels/wechat/bindings')
  expect(bind.data).toEqual({ binding_token: 'bt-1', id_number: '110105199005170011', password: 'abc12345' })
  expect(platform.storage['gjj.tokens'].access_token).toBe('access-9')
  expect(platform.relaunches).toEqual(['/pages/home/index'])
})

test('a withdrawal retried with a new SMS code after a wrong one keeps its Idempotency-Key; a changed form gets a new one', async () => {
  route('POST', '/withdrawals', (req) =>
    req.data.sms_code === '111111'
      ? { statusCode: 422, data: { code: 422, status: 'Unprocessable Entity', message: '短信验证码不正确', error_code: 'sms.code_invalid' } }
      : { statusCode: 503, data: { code: 503, message: '服务暂时不可用，请稍后重试', error_code: 'service.unavailable' } },
  )
  const page = await openWithdrawal(0)
  await fillWithdrawal(page, { amount: '100.00', smsCode: '111111' })
  await tap(page.querySelector('.withdraw__submit'))
  await type(page.querySelector('.sms-row').querySelector('.sms-field__input'), '222222')
  await tap(page.querySelector('.withdraw__submit'))
  await type(page.querySelector('.withdraw__amount'), '200.00')
  await tap(page.querySelector('.withdraw__submit'))

  const posts = platform.requests.filter((r) => r.path === '/withdrawals')
  expect(posts.map((p) => [p.data.amount, p.data.sms_code])).toEqual([['100.00', '111111'], ['100.00', '222222'], ['200.00', '222222']])
  const keys = posts.map((p) => p.header['Idempotency-Key'])
  expect(keys[1]).toBe(keys[0])
  expect(keys[2]).not.toBe(keys[0])
})

test('a production build ignores an API base written to storage', async () => {
  platform.storage['gjj.api_base'] = 'https://elsewhere.example.net/api/v1'
  route('GET', '/fund/account', { data: fixture('fund_account') })
  route('GET', '/fund/transactions', { data: fixture('transactions') })
  await openPage('pages/fund/index')

  expect(platform.requests.length).toBeGreaterThan(0)
  expect(platform.requests.map((r) => new URL(r.url).host)).toEqual(platform.requests.map(() => 'gjj-hall.example.cn'))
})

test('a member without a loan sees no loan query buttons; application and calculator stay', async () => {
  homeRoutes({ loans: fixture('loans_none') })
  const page = await openPage('pages/home/index')

  const buttons = text(page.querySelector('.home__loans'))
  expect(buttons).toContain('暂无贷款')
  expect(buttons).toContain('贷款申请')
  expect(buttons).toContain('贷款计算器')
  for (const name of ['贷款进度查询', '贷款信息', '还款明细', '还款计划']) expect(buttons).not.toContain(name)
})

test('a member with a loan sees every loan button', async () => {
  homeRoutes({ loans: fixture('loans') })
  const page = await openPage('pages/home/index')

  const buttons = text(page.querySelector('.home__loans'))
  for (const name of ['贷款进度查询', '贷款信息', '还款明细', '还款计划', '贷款申请', '贷款计算器']) expect(buttons).toContain(name)
})

test('the inbox badge refreshes while the home page stays open, and a pull-down reloads it', async () => {
  let unread = 1
  homeRoutes()
  route('GET', '/messages/unread-count', () => ({ data: fixture('unread_count', { unread_count: unread, open_todo_count: 0 }) }))
  const page = await openPage('pages/home/index')
  expect(text(page.querySelector('.badge'))).toBe('1')

  unread = 4
  await settle(60 * 1000)
  expect(text(page.querySelector('.badge'))).toBe('4')

  unread = 6
  const before = platform.requests.length
  page.instance.onPullDownRefresh()
  await settle()
  expect(platform.requests.slice(before).map((r) => r.path)).toEqual(expect.arrayContaining(['/me', '/messages/unread-count', '/loans']))
  expect(text(page.querySelector('.badge'))).toBe('6')
  expect(platform.pullDownStops).toBe(1)
})

test('the fund page reloads the account and the ledger on a pull-down', async () => {
  route('GET', '/fund/account', { data: fixture('fund_account') })
  route('GET', '/fund/transactions', { data: fixture('transactions') })
  const page = await openPage('pages/fund/index')
  platform.requests = []

  page.instance.onPullDownRefresh()
  await settle()
  expect(platform.requests.map((r) => r.path).sort()).toEqual(['/fund/account', '/fund/transactions'])
  expect(platform.pullDownStops).toBe(1)
})

test('a calculator input the API refuses shows the field’s reason from the envelope’s errors', async () => {
  const reason = '贷款金额须大于 0 且不超过 5000000 元，精确到分'
  route('GET', '/loan-calculator', {
    statusCode: 422,
    data: { code: 422, status: 'Unprocessable Entity', message: '贷款试算参数有误，请检查后重试', error_code: 'loan.terms_invalid', errors: { principal: [reason] } },
  })
  const page = await openPage('pages/loans/calculator')
  await type(page.querySelector('.calc__principal'), '9000000')
  await type(page.querySelector('.calc__months'), '360')
  await type(page.querySelector('.calc__rate'), '3.1')
  await tap(page.querySelector('.calc__submit'))

  expect(text(page.querySelector('.calc__error--principal'))).toBe(reason)
  expect(platform.toasts).toEqual([reason])
})

test('the calculator shows the schedule with grouped amounts', async () => {
  route('GET', '/loan-calculator', { data: fixture('calculator') })
  const page = await openPage('pages/loans/calculator')
  await type(page.querySelector('.calc__principal'), '1200000')
  await type(page.querySelector('.calc__months'), '2')
  await type(page.querySelector('.calc__rate'), '3.1')
  await tap(page.querySelector('.calc__submit'))

  expect(text(page.querySelector('.calc__result'))).toContain('1,204,650.00 元')
  const table = page.querySelector('.calc__schedule')
  // the component's classes carry its prefix in the simulated DOM
  const cells = Array.from(table.dom.querySelectorAll('[data-testid=schedule-row]')[0].children).map((c) => c.textContent.trim())
  expect(cells).toEqual(['1', '2026-04-02', '603,100.00', '600,000.00', '3,100.00', '600,000.00'])
})

test('the loan application shows the member’s loan limit and rate before submitting', async () => {
  route('GET', '/loan-applications/quota', (req) => ({ data: fixture('loan_quota', { annual_rate: req.query.first_home === 'false' ? '3.075' : '2.60' }) }))
  const page = await openPage('pages/loans/apply')

  const quota = text(page.querySelector('.apply__quota'))
  expect(quota).toContain('780,000.00 元')
  expect(quota).toContain('2.60%')
  expect(platform.requests.find((r) => r.path === '/loan-applications/quota').query).toEqual({ first_home: 'true' })

  page.querySelector('.apply__first-home').dispatchEvent('change', { detail: { value: false } })
  await settle()
  expect(text(page.querySelector('.apply__quota'))).toContain('3.075%')
})

test('the loan application says why a member without an account cannot apply', async () => {
  route('GET', '/loan-applications/quota', { data: fixture('loan_quota_no_account') })
  const page = await openPage('pages/loans/apply')

  expect(text(page.querySelector('.apply__quota'))).toContain('您尚未开立住房公积金个人账户，不能申请贷款')
})

test('the fund page offers 贷款进度查询 only to a member with a loan', async () => {
  route('GET', '/fund/account', { data: fixture('fund_account') })
  route('GET', '/fund/transactions', { data: fixture('transactions') })
  route('GET', '/loans', { data: fixture('loans_none') })
  const without = await openPage('pages/fund/index')
  expect(text(without.querySelector('.fund__actions'))).not.toContain('贷款进度查询')

  route('GET', '/loans', { data: fixture('loans') })
  const withLoan = await openPage('pages/fund/index')
  expect(text(withLoan.querySelector('.fund__actions'))).toContain('贷款进度查询')
  expect(platform.toasts).toEqual([])
})
