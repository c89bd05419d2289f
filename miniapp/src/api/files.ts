// Opening the certificate PDF: it is owner-only, so the request carries the bearer token.
import { apiUrl, refreshSession, showError } from './client'
import { getTokens } from './session'

// #ifdef H5
async function fetchPdf(path: string): Promise<Response> {
  const go = () =>
    fetch(apiUrl(path), {
      headers: { Authorization: `Bearer ${getTokens()?.access_token || ''}`, Accept: 'application/pdf' },
    })
  let res = await go()
  if (res.status === 401 && (await refreshSession())) res = await go()
  return res
}

async function openPdfH5(path: string, filename: string): Promise<void> {
  // A window opened after an await is blocked as a pop-up, so open it inside the tap.
  const win = window.open('', '_blank')
  let res: Response
  try {
    res = await fetchPdf(path)
  } catch (e) {
    if (win) win.close()
    showError('网络连接失败，请稍后重试')
    throw e
  }
  if (!res.ok) {
    if (win) win.close()
    let message = '证明文件获取失败，请稍后重试'
    try {
      const body = await res.json()
      if (body && body.message) message = body.message
    } catch (e) {
      // not JSON: keep the generic text
    }
    showError(message)
    throw new Error(message)
  }
  const url = URL.createObjectURL(await res.blob())
  if (win) {
    win.location.href = url
  } else {
    const a = document.createElement('a')
    a.href = url
    a.download = filename
    document.body.appendChild(a)
    a.click()
    a.remove()
  }
  // Leave the object URL alive long enough for the new tab to load it.
  setTimeout(() => URL.revokeObjectURL(url), 60000)
}
// #endif

// #ifndef H5
function openPdfMp(path: string, filename: string): Promise<void> {
  const download = (): Promise<any> =>
    new Promise((resolve, reject) => {
      uni.downloadFile({
        url: apiUrl(path),
        header: { Authorization: `Bearer ${getTokens()?.access_token || ''}` },
        timeout: 30000,
        success: resolve,
        fail: reject,
      })
    })
  uni.showLoading({ title: '正在打开', mask: true })
  return download()
    .then(async (res) => {
      if (res.statusCode === 401 && (await refreshSession())) res = await download()
      if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}`)
      return new Promise<void>((resolve, reject) => {
        uni.openDocument({ filePath: res.tempFilePath, fileType: 'pdf', showMenu: true, success: () => resolve(), fail: reject })
      })
    })
    .catch((e) => {
      showError(`证明文件${filename}打开失败，请稍后重试`)
      throw e
    })
    .finally(() => uni.hideLoading())
}
// #endif

export function openPdf(path: string, filename: string): Promise<void> {
  // #ifdef H5
  return openPdfH5(path, filename)
  // #endif
  // #ifndef H5
  return openPdfMp(path, filename)
  // #endif
}
