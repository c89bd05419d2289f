// The hall's notification sound (manual 1.3: members can switch it off from the home page).
let ctx: any = null

export function playNotice(): void {
  try {
    if (!ctx) {
      ctx = uni.createInnerAudioContext()
      ctx.src = '/static/notice.wav'
    }
    ctx.stop()
    ctx.play()
  } catch (e) {
    // Audio is a courtesy; a platform without it must not break the page.
  }
}
