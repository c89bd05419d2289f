// One Idempotency-Key per form submission: a retry of the same submission (after a timeout or a
// lost answer) reuses it so the server replays its first answer; any edit to the form starts a new
// submission, since a replayed refusal would otherwise hide the correction.
import { watch, type WatchSource } from 'vue'
import { uuid4 } from './uuid'

export function useIdempotencyKey(source: WatchSource<unknown> | object) {
  let key = ''
  watch(source as any, () => {
    key = ''
  }, { deep: true })
  return {
    current(): string {
      if (!key) key = uuid4()
      return key
    },
    reset(): void {
      key = ''
    },
  }
}
