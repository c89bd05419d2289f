// Subscription-message consent. Both platforms only show the consent sheet from a tap, so this is
// called from button handlers, and the answers are recorded with POST /me/subscriptions.
// The template ids are the backend's (GET /me/subscriptions), fetched ahead of the tap because a
// request between the tap and requestSubscribeMessage can cost the platform's tap gesture; the
// build-time ids (VITE_GJJ_*_TEMPLATE_IDS) serve until that answer arrives.
import { api } from '../api/client'
import { ALIPAY_TEMPLATE_IDS, WECHAT_TEMPLATE_IDS } from '../api/config'

export type ConsentAnswer = 'accept' | 'reject' | 'ban'

export interface ConsentResult {
  channel: 'wechat' | 'alipay'
  template_id: string
  result: ConsentAnswer
}

let WECHAT_IDS = WECHAT_TEMPLATE_IDS
let ALIPAY_IDS = ALIPAY_TEMPLATE_IDS

function appChannel(): 'wechat' | 'alipay' | '' {
  let channel: 'wechat' | 'alipay' | '' = ''
  // #ifdef MP-WEIXIN
  channel = 'wechat'
  // #endif
  // #ifdef MP-ALIPAY
  channel = 'alipay'
  // #endif
  return channel
}

/** Fetch the backend's template ids for this platform; resolves to whether consent can be asked. */
export async function loadTemplates(): Promise<boolean> {
  const channel = appChannel()
  if (!channel) return false
  try {
    const body = await api.get('/me/subscriptions', { channel }, { silent: true })
    const ids: string[] = (body.items || []).map((t: Record<string, any>) => String(t.template_id))
    if (ids.length) {
      if (channel === 'wechat') WECHAT_IDS = ids
      else ALIPAY_IDS = ids
    }
  } catch (e) {
    // keep the build-time ids: consent is a courtesy, the page must not fail for it
  }
  return subscriptionSupported()
}

export function subscriptionSupported(): boolean {
  let ok = false
  // #ifdef MP-WEIXIN
  ok = WECHAT_IDS.length > 0
  // #endif
  // #ifdef MP-ALIPAY
  ok = ALIPAY_IDS.length > 0
  // #endif
  return ok
}

function askPlatform(): Promise<ConsentResult[]> {
  return new Promise((resolve) => {
    // #ifdef MP-WEIXIN
    wx.requestSubscribeMessage({
      tmplIds: WECHAT_IDS,
      success: (res: Record<string, string>) => {
        resolve(
          WECHAT_IDS.filter((id) => res[id]).map((id) => ({
            channel: 'wechat' as const,
            template_id: id,
            result: (res[id] === 'accept' ? 'accept' : res[id] === 'ban' ? 'ban' : 'reject') as ConsentAnswer,
          })),
        )
      },
      fail: () => resolve([]),
    })
    // #endif
    // #ifdef MP-ALIPAY
    my.requestSubscribeMessage({
      entityIds: ALIPAY_IDS,
      success: (res: any) => {
        const accepted: string[] = (res && res.result && res.result.subscribeEntityIds) || []
        const subscribed = res && res.behavior === 'subscribe'
        resolve(
          ALIPAY_IDS.map((id) => ({
            channel: 'alipay' as const,
            template_id: id,
            result: (subscribed && (accepted.length === 0 || accepted.includes(id)) ? 'accept' : 'reject') as ConsentAnswer,
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
  if (answers.length) {
    // one POST per channel: {channel, results: {template_id: accept|reject|ban}}
    const results: Record<string, ConsentAnswer> = {}
    answers.forEach((a) => {
      results[a.template_id] = a.result
    })
    await api.post('/me/subscriptions', { channel: answers[0].channel, results }, { silent: true }).catch(() => undefined)
  }
  const accepted = answers.filter((a) => a.result === 'accept').length
  if (answers.length) {
    uni.showToast({ title: accepted ? '已开启消息提醒' : '未开启消息提醒', icon: 'none' })
  }
  return accepted
}
