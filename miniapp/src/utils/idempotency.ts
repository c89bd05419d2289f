// Money-moving forms (withdrawal, loan application): one Idempotency-Key per form submission. A
// retry of the same submission (after a timeout or a lost answer) reuses it so the server replays
// its first answer; any edit to the form starts a new submission, since the server answers 409 to
// a known key with a different body.
import { ref, watch, type WatchSource } from 'vue'
import { api, showError } from '../api/client'
import { uuid4 } from './uuid'

export function useMoneyForm(source: WatchSource<unknown> | object) {
  let key = ''
  const busy = ref(false)
  const result = ref<Record<string, any> | null>(null)
  watch(source as any, () => {
    key = ''
  }, { deep: true })

  /** POST the form unless ``problem`` names what is wrong with it; the answer lands in ``result``. */
  async function submit(path: string, body: Record<string, unknown>, problem: string): Promise<void> {
    if (problem) return showError(problem)
    if (!key) key = uuid4()
    busy.value = true
    try {
      result.value = await api.post(path, body, { loading: '提交中', headers: { 'Idempotency-Key': key } })
      uni.showToast({ title: '提交成功', icon: 'success' })
    } catch (e) {
      // shown by the API client; the key stays for a retry of this same submission
    } finally {
      busy.value = false
    }
  }

  return { busy, result, submit }
}
