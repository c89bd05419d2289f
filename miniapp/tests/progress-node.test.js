const { platform, reset, route, login, openPage, text, fixture } = require('./harness')

const YELLOW = '#f5b800'
const GREEN = '#19a15f'
const GREY = '#c8c8c8'

function nodes(page) {
  return page.querySelectorAll('.pnode-row')
}

function dotColor(node) {
  const style = node.querySelector('.pnode__dot').dom.getAttribute('style') || ''
  const match = style.match(/background-color:\s*([^;]+)/)
  return match ? match[1].trim() : ''
}

beforeEach(() => {
  reset()
  login()
})

test('progress nodes are yellow when done, green when current and grey when pending', async () => {
  route('GET', '/loans', { data: fixture('loans') })
  route('GET', '/loans/JK2023001/progress', { data: fixture('loan_progress') })
  const page = await openPage('pages/loans/progress')

  const rendered = nodes(page)
  expect(rendered.map((n) => text(n.querySelector('.pnode__name')))).toEqual(['贷款受理', '贷款审批', '合同签订', '贷款发放'])
  expect(rendered.map(dotColor)).toEqual([YELLOW, YELLOW, GREEN, GREY])
  expect(rendered.map((n) => text(n.querySelector('.pnode__state')))).toEqual(['已完成', '已完成', '办理中', '未开始'])
  expect(text(rendered[0])).toContain('审批意见：材料齐全')
  expect(text(rendered[0])).toContain('2023-05-01 09:00')
  expect(text(rendered[1])).toContain('经办：王审批')
  expect(platform.requests.map((r) => r.path)).toEqual(['/loans', '/loans/JK2023001/progress'])
})

test('a member without loans sees the API notice and no progress', async () => {
  const notice = '您未办理贷款业务，如需办理贷款业务，请回到主页面进行贷款申请'
  route('GET', '/loans', { data: fixture('loans_none') })
  const page = await openPage('pages/loans/progress')

  expect(text(page.querySelector('.contracts').querySelector('.notice'))).toBe(notice)
  expect(nodes(page)).toHaveLength(0)
  expect(platform.requests.map((r) => r.path)).toEqual(['/loans'])
})

test('an undisbursed contract shows the notice of GET /loans/{no}', async () => {
  const info = fixture('loan_info_signed')
  route('GET', '/loans', { data: fixture('loans', { items: [{ ...fixture('loans').items[0], contract_no: info.contract_no, status: info.status, status_label: info.status_label }] }) })
  route('GET', '/loans/JK2024009', { data: info })
  const page = await openPage('pages/loans/info')

  expect(text(page.querySelector('.notice'))).toBe('此合同【JK2024009】的贷款未发放')
  expect(text(page.querySelector('.loan-info'))).toContain('300,000.00 元')
  expect(text(page.querySelector('.loan-info'))).toContain('20年（240个月）')
})
