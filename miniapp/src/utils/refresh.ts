// Keeping a page current while the app stays open: pull-down refresh and a poll while shown.
import { onHide, onPullDownRefresh, onShow, onUnload } from '@dcloudio/uni-app'

/** Pull-down refresh (the page has enablePullDownRefresh in pages.json): run ``load``, then
 * close the platform's spinner whatever the answer. */
export function usePullDownRefresh(load: () => Promise<unknown> | void): void {
  onPullDownRefresh(async () => {
    try {
      await load()
    } finally {
      uni.stopPullDownRefresh()
    }
  })
}

/** Call ``poll`` every ``ms`` while the page is shown; hidden or closed, it stops. */
export function usePolling(poll: () => unknown, ms: number): void {
  let timer: ReturnType<typeof setInterval> | null = null
  function stop(): void {
    if (timer !== null) clearInterval(timer)
    timer = null
  }
  onShow(() => {
    stop()
    timer = setInterval(poll, ms)
  })
  onHide(stop)
  onUnload(stop)
}
