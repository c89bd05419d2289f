const { platform, reset, route, login, openPage, tap, text } = require('./harness')

function message(id, extra = {}) {
  return { id, kind: 'message', business_name: `提取业务${id}`, content: `您的提取申请已受理${id}`, channel: 'core', sent_at: '2024-03-01T02:30:00Z', read_at: null, ...extra }
}

function items(page) {
  return page.querySelectorAll('.msg-row')
}

beforeEach(() => {
  reset()
  login()
})

test('unread message item shows business name, content, Shanghai time and the read action', async () => {
  route('GET', '/messages', { data: { items: [message(1)], next_cursor: null } })
  const page = await openPage('pages/messages/index', { status: 'unread' })

  const [item] = items(page)
  expect(text(item)).toContain('提取业务1')
  expect(text(item)).toContain('您的提取申请已受理1')
  expect(text(item)).toContain('2024-03-01 10:30')
  expect(item.querySelector('.msg-item__dot')).toBeTruthy()
  const buttons = item.querySelectorAll('.btn-mini').map(text)
  expect(buttons).toEqual(['查看', '标为已阅', '删除'])
  expect(platform.requests[0]).toMatchObject({ method: 'GET', path: '/messages', query: { status: 'unread' } })
  expect(platform.requests[0].header.Authorization).toBe('Bearer access-1')
})

test('read message item has no read action when listed under 已阅', async () => {
  route('GET', '/messages', { data: { items: [message(2, { read_at: '2024-03-02T00:00:00Z' })], next_cursor: null } })
  const page = await openPage('pages/messages/index', { status: 'read' })

  const [item] = items(page)
  expect(item.querySelector('.msg-item__dot')).toBeFalsy()
  expect(item.querySelectorAll('.btn-mini').map(text)).toEqual(['查看', '删除'])
  expect(platform.requests[0].query.status).toBe('read')
})

test('marking a message read posts it, says 已标记为已阅 and moves it out of the unread list', async () => {
  route('GET', '/messages', { data: { items: [message(1), message(2)], next_cursor: null } })
  route('POST', '/messages/1/read', { statusCode: 200, data: { id: 1, read_at: '2024-03-02T00:00:00Z' } })
  const page = await openPage('pages/messages/index', { status: 'unread' })

  await tap(items(page)[0].querySelector('.msg-item__read'))

  expect(platform.requests.some((r) => r.method === 'POST' && r.path === '/messages/1/read')).toBe(true)
  expect(platform.toasts).toContain('已标记为已阅')
  expect(items(page).map((i) => text(i.querySelector('.msg-item__title')))).toEqual(['提取业务2'])
})

test('deleting a message says 消息已删除 and removes it from the list', async () => {
  route('GET', '/messages', { data: { items: [message(1), message(2)], next_cursor: null } })
  route('DELETE', '/messages/2', { statusCode: 204 })
  const page = await openPage('pages/messages/index', { status: 'unread' })

  await tap(items(page)[1].querySelector('.msg-item__remove'))

  expect(platform.requests.some((r) => r.method === 'DELETE' && r.path === '/messages/2')).toBe(true)
  expect(platform.toasts).toContain('消息已删除')
  expect(items(page)).toHaveLength(1)
})

test('更多 loads the next page with next_cursor and appends it', async () => {
  route('GET', '/messages', (req) =>
    req.query.cursor === 'c2'
      ? { data: { items: [message(3)], next_cursor: null } }
      : { data: { items: [message(1), message(2)], next_cursor: 'c2' } },
  )
  const page = await openPage('pages/messages/index', { status: 'unread' })
  const more = page.querySelector('.more-row').querySelector('.load-more__btn')
  expect(text(more)).toBe('更多')

  await tap(more)

  expect(platform.requests[1].query).toMatchObject({ status: 'unread', cursor: 'c2' })
  expect(items(page)).toHaveLength(3)
  expect(page.querySelector('.more-row').querySelector('.load-more__btn')).toBeFalsy()
})

test('an expired token is refreshed once and the request retried with the new token', async () => {
  route('GET', '/messages', (req) =>
    req.header.Authorization === 'Bearer access-2'
      ? { data: { items: [message(1)], next_cursor: null } }
      : { statusCode: 401, data: { code: 401, message: '登录已过期', error_code: 'auth.token_expired' } },
  )
  route('POST', '/sessions/refresh', (req) =>
    req.data.refresh_token === 'refresh-1' ? { statusCode: 201, data: { access_token: 'access-2', refresh_token: 'refresh-2' } } : { statusCode: 401, data: {} },
  )
  const page = await openPage('pages/messages/index', { status: 'unread' })

  expect(platform.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /messages', 'POST /sessions/refresh', 'GET /messages'])
  expect(platform.storage['gjj.tokens'].refresh_token).toBe('refresh-2')
  expect(items(page)).toHaveLength(1)
})

test('a refused refresh ends the session and returns to the login page', async () => {
  route('GET', '/messages', { statusCode: 401, data: { code: 401, message: '登录已过期，请重新登录', error_code: 'auth.token_expired' } })
  route('POST', '/sessions/refresh', { statusCode: 401, data: { code: 401, message: '登录已过期', error_code: 'auth.refresh_invalid' } })
  await openPage('pages/messages/index', { status: 'unread' })

  expect(platform.requests.filter((r) => r.path === '/sessions/refresh')).toHaveLength(1)
  expect(platform.storage['gjj.tokens']).toBeUndefined()
  expect(platform.relaunches).toEqual(['/pages/login/index'])
})

test('an API error shows the API message as it came', async () => {
  route('GET', '/messages', { statusCode: 503, data: { code: 503, status: 'Service Unavailable', message: '系统维护中，请稍后再试', error_code: 'service.maintenance' } })
  await openPage('pages/messages/index', { status: 'unread' })

  expect(platform.toasts).toEqual(['系统维护中，请稍后再试'])
})
