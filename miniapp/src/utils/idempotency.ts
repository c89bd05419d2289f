// Money-moving forms (withdrawal, loan application): one Idempotency-Key per intended application.
// The key is made for what the form asks for (its body without the SMS code) and kept across
// retries and new SMS codes, so a retry after a timeout, a lost answer or a wrong code is the same
// application and the server replays or completes it instead of refusing a second one. A changed
// form is another application (the server answers 409 to a known key with a different body), and
// after a success the next submission is a new application too.
import { ref } from 'vue'
import { api, showError } from '../api/client'
import { uuid4 } from './uuid'

/** What identifies the application: the body without the one-time SMS code, keys sorted. */
export function intentOf(body: Record<string, unknown>): string {
  const fields = Object.keys(body)
    .filter((k) => k !== 'sms_code')
    .sort()
  return JSON.stringify(body, fields)
}

export function useMoneyForm() {
  let key = ''
  let keyIntent = ''
  const busy = ref(false)
  const result = ref<Record<string, any> | null>(null)

  /** POST the form unless ``problem`` names what is wrong with it; the answer lands in ``result``. */
  async function submit(path: string, body: Record<string, unknown>, problem: string): Promise<void> {
    if (problem) return showError(problem)
    const intent = intentOf(body)
    if (!key || intent !== keyIntent) {
      key = uuid4()
      keyIntent = intent
    }
    busy.value = true
    try {
      result.value = await api.post(path, body, { loading: '提交中', headers: { 'Idempotency-Key': key } })
      key = ''
      keyIntent = ''
      uni.showToast({ title: '提交成功', icon: 'success' })
    } catch (e) {
      // shown by the API client; the key stays for a retry of this same application
    } finally {
      busy.value = false
    }
  }

  return { busy, result, submit }
}
