const { platform, reset, route, login, openPage, text } = require('./harness')

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
  route('GET', '/loans', { data: { items: [{ contract_no: 'JK2023001', status: '还款中' }], next_cursor: null } })
  route('GET', '/loans/JK2023001/progress', {
    data: {
      contract_no: 'JK2023001',
      nodes: [
        { name: '贷款受理', state: 'done', time: '2023-05-01T01:00:00Z', opinion: '材料齐全' },
        { name: '贷款审批', state: 'done', time: '2023-05-03T01:00:00Z', handler: '王审批' },
        { name: '合同签订', state: 'current', time: null },
        { name: '贷款发放', state: 'pending', time: null },
      ],
    },
  })
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
  route('GET', '/loans', { data: { items: [], notice } })
  const page = await openPage('pages/loans/progress')

  expect(text(page.querySelector('.contracts').querySelector('.notice'))).toBe(notice)
  expect(nodes(page)).toHaveLength(0)
  expect(platform.requests.map((r) => r.path)).toEqual(['/loans'])
})

test('an undisbursed contract shows the notice of GET /loans/{no}', async () => {
  route('GET', '/loans', { data: { items: [{ contract_no: 'JK2024009', status: '已签合同未放款' }], next_cursor: null } })
  route('GET', '/loans/JK2024009', { data: { contract_no: 'JK2024009', status: '已签合同未放款', amount: '300000.00', term_months: 240, notice: '此合同【JK2024009】的贷款未发放' } })
  const page = await openPage('pages/loans/info')

  expect(text(page.querySelector('.notice'))).toBe('此合同【JK2024009】的贷款未发放')
  expect(text(page.querySelector('.loan-info'))).toContain('300000.00 元')
  expect(text(page.querySelector('.loan-info'))).toContain('20年（240个月）')
})
