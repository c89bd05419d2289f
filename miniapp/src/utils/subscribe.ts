// Subscription-message consent. Both platforms only show the consent sheet from a tap, so this is
// called from button handlers, and every answer is recorded with POST /me/subscriptions.
import { api } from '../api/client'
import { ALIPAY_TEMPLATE_IDS, WECHAT_TEMPLATE_IDS } from '../api/config'

export interface ConsentResult {
  channel: 'wechat' | 'alipay'
  template_id: string
  result: 'accept' | 'reject' | 'ban'
}

export function subscriptionSupported(): boolean {
  let ok = false
  // #ifdef MP-WEIXIN
  ok = WECHAT_TEMPLATE_IDS.length > 0
  // #endif
  // #ifdef MP-ALIPAY
  ok = ALIPAY_TEMPLATE_IDS.length > 0
  // #endif
  return ok
}

function askPlatform(): Promise<ConsentResult[]> {
  return new Promise((resolve) => {
    // #ifdef MP-WEIXIN
    wx.requestSubscribeMessage({
      tmplIds: WECHAT_TEMPLATE_IDS,
      success: (res: Record<string, string>) => {
        resolve(
          WECHAT_TEMPLATE_IDS.filter((id) => res[id]).map((id) => ({
            channel: 'wechat' as const,
            template_id: id,
            result: (res[id] === 'accept' ? 'accept' : res[id] === 'ban' ? 'ban' : 'reject') as ConsentResult['result'],
          })),
        )
      },
      fail: () => resolve([]),
    })
    // #endif
    // #ifdef MP-ALIPAY
    my.requestSubscribeMessage({
      entityIds: ALIPAY_TEMPLATE_IDS,
      success: (res: any) => {
        const accepted: string[] = (res && res.result && res.result.subscribeEntityIds) || []
        const subscribed = res && res.behavior === 'subscribe'
        resolve(
          ALIPAY_TEMPLATE_IDS.map((id) => ({
            channel: 'alipay' as const,
            template_id: id,
            result: (subscribed && (accepted.length === 0 || accepted.includes(id)) ? 'accept' : 'reject') as ConsentResult['result'],
          })),
        )
      },
      fail: () => resolve([]),
    })
    // #endif
    // #ifdef H5
    resolve([])
    // #endif
  })
}

/** Ask for consent (from a tap) and record each answer. Resolves to the number accepted. */
export async function askSubscriptionConsent(): Promise<number> {
  if (!subscriptionSupported()) return 0
  const answers = await askPlatform()
  for (const answer of answers) {
    await api.post('/me/subscriptions', answer, { silent: true }).catch(() => undefined)
  }
  const accepted = answers.filter((a) => a.result === 'accept').length
  if (answers.length) {
    uni.showToast({ title: accepted ? '已开启消息提醒' : '未开启消息提醒', icon: 'none' })
  }
  return accepted
}
